/**
 * A backtest (`llm-trading backtest --from W1 --to W2`): every week of the range replayed as P4's
 * whole week — the Wednesday pipeline on bars through the previous close, every checkpoint, the
 * postmortem — in the backtest's own portfolio (`bt-<name>`) on the simulated clock, so each decision
 * sees only what was knowable then.
 *
 * Two kinds of work (DESIGN §3):
 *   - a week's decision stages (snapshot, research, pitches, review, chairman) read market data and
 *     nothing of the books, so many weeks can decide at once (decideWeek);
 *   - the books (risk, execution, checkpoints, postmortem) replay week after week, in order
 *     (bookWeek), each week resuming after whatever of its decisions is already stored.
 * In one process (in-process.ts) or as PostgreSQL jobs shared by workers (jobs.ts), both built on the
 * functions here. A week's lock makes the two meet safely: a books step that reaches a week whose
 * decisions are still running waits for them and then finds them done.
 *
 * Resumable: the backtest row counts the weeks booked in order; the same command after Ctrl-C, a crash
 * or a killed worker continues at the first week not booked (that week itself resumes where it
 * stopped: P3/P4's resume rules).
 */
import { createHash, randomUUID } from 'node:crypto';
import { and, asc, between, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { App } from '../app.js';
import { runWholeWeek } from '../checkpoint/whole-week.js';
import type { AppConfig } from '../config/app-config.js';
import type { StageName } from '../council/stage.js';
import { weekOf, type WeekInfo } from '../council/week.js';
import { runWeek } from '../council/weekly.js';
import { addDays } from '../market/calendar.js';
import type { Postmortem } from '../metrics/postmortem.js';
import { UserError } from '../errors.js';
import type { Db } from '../storage/db.js';
import { encodedAs, reusableStatement, type Slots } from '../storage/reusable-query.js';
import { backtests, events, llmCalls, stageRuns } from '../storage/schema.js';
import { kindRefusal, storedPortfolioKind } from '../portfolio/portfolio.js';

export class BacktestError extends UserError {}

export const backtestPortfolio = (name: string) => `bt-${name}`;

/** The stages that do not touch the books: they may run for many weeks at once. */
export const DECISION_STAGES: readonly StageName[] = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman'];

/** How every process that works on a backtest opens its App (stored with the backtest). */
export interface BacktestSettings {
  offline: boolean;
  allow_offline_seats: boolean;
  /** --budget-usd: the cap on the whole backtest's LLM spending (else config/llm.yaml's). */
  budget_usd?: number;
}

export type BacktestRow = typeof backtests.$inferSelect;

export interface BacktestRun {
  name: string;
  portfolio: string;
  weeks: WeekInfo[];
  /** Every week's postmortem, in week order. */
  postmortems: WeekPostmortem[];
  /** Weeks read back from an earlier, interrupted run of the same backtest. */
  resumed: number;
}

/**
 * The command that continues a stored backtest as it was started: its range and name, and the flags
 * its settings came from (a continued run must run the same agents under the same cap).
 */
export function continueCommand(row: Pick<BacktestRow, 'name' | 'fromWeek' | 'toWeek' | 'mode' | 'settings'>): string {
  const settings = (row.settings ?? {}) as Partial<BacktestSettings>;
  return [
    `llm-trading backtest --from ${row.fromWeek} --to ${row.toWeek} --name ${row.name}`,
    ...(row.mode === 'offline' || settings.offline ? ['--offline'] : []),
    ...(settings.allow_offline_seats ? ['--allow-offline-seats'] : []),
    ...(settings.budget_usd !== undefined ? [`--budget-usd ${settings.budget_usd}`] : []),
  ].join(' ');
}

/** The decision weeks from `from` to `to` (both decision days, `to` included), one every seven days. */
export function weeksBetween(config: AppConfig, from: string, to: string): WeekInfo[] {
  if (to < from) throw new BacktestError(`--to ${to} is before --from ${from}`);
  const weeks: WeekInfo[] = [];
  for (let w = from; w <= to; w = addDays(w, 7)) weeks.push(weekOf(w, config));
  return weeks;
}

/**
 * A digest of what decides a backtest's results (assets, schedule, seats, risk, execution): every
 * process that works on one backtest must have the same, or the weeks would mix two configurations.
 */
export function configDigest(config: AppConfig): string {
  const { jobs: _howWorkIsShared, ...schedule } = config.schedule;
  const decisive = { assets: config.assets, schedule, models: config.models };
  return createHash('sha256').update(JSON.stringify(decisive)).digest('hex').slice(0, 16);
}

/**
 * Why the stored backtest `name` cannot be continued over `weeks` with this app's configuration and
 * agents; null when it can, or when none is stored. Asked before anything is printed or written.
 */
export async function refusalToContinue(app: App, name: string, weeks: readonly WeekInfo[]): Promise<string | null> {
  // Its portfolio already holds weekly runs of another kind (`run_weekly --portfolio bt-NAME`).
  const kind = await storedPortfolioKind(app.store.db, backtestPortfolio(name));
  const wrongKind = kind && kindRefusal(backtestPortfolio(name), kind, 'backtest');
  if (wrongKind) return wrongKind;
  const [existing] = await app.store.db.select().from(backtests).where(eq(backtests.name, name));
  if (!existing) return null;
  if (existing.fromWeek !== weeks[0]?.week_id || existing.toWeek !== weeks.at(-1)?.week_id)
    return `backtest ${name} already exists for ${existing.fromWeek}..${existing.toWeek}: give the same range to continue it, or another --name`;
  if (existing.configDigest && existing.configDigest !== configDigest(app.config))
    return `backtest ${name} was started with another configuration (assets, schedule, seats or risk differ): continue it with that configuration, or start another --name`;
  if (existing.mode !== app.agents.mode)
    return `backtest ${name} runs ${existing.mode} agents, not ${app.agents.mode}: continue it the same way (\`${continueCommand(existing)}\`), or start another --name`;
  return null;
}

/**
 * Creates the backtest's row, or continues the stored one (same range, same configuration), and marks
 * it running. Returns the row as it now is.
 */
export async function openBacktest(app: App, name: string, weeks: readonly WeekInfo[], settings: BacktestSettings): Promise<BacktestRow> {
  const db = app.store.db;
  const first = weeks[0];
  const last = weeks.at(-1);
  if (!first || !last) throw new BacktestError('the range holds no week');
  if (app.portfolio !== backtestPortfolio(name))
    throw new Error(`backtest ${name} runs in portfolio ${backtestPortfolio(name)}, not ${app.portfolio}`);
  const digest = configDigest(app.config);
  const refusal = await refusalToContinue(app, name, weeks);
  if (refusal) throw new BacktestError(refusal);
  await db
    .insert(backtests)
    .values({
      name,
      portfolio: app.portfolio,
      fromWeek: first.week_id,
      toWeek: last.week_id,
      mode: app.agents.mode,
      status: 'running',
      weeksTotal: weeks.length,
      weeksDone: 0,
      settings,
      configDigest: digest,
      run: newRunId(),
    })
    .onConflictDoUpdate({
      target: backtests.name,
      set: {
        status: sql`case when ${backtests.status} = 'completed' then 'completed' else 'running' end`,
        // The continuing command's settings rule from here (a raised --budget-usd reaches every worker).
        settings: sql`excluded.settings`,
        run: sql`excluded.run`,
        error: null,
        updatedAt: new Date(),
      },
    });
  const [row] = await db.select().from(backtests).where(eq(backtests.name, name));
  if (!row) throw new BacktestError(`backtest ${name} could not be stored`);
  return row;
}

/** A run's id: when it started (readable in the queue's job data), and unique. */
function newRunId(): string {
  return `${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
}

export async function backtestRow(db: Db, name: string): Promise<BacktestRow | null> {
  const [row] = await db.select().from(backtests).where(eq(backtests.name, name));
  return row ?? null;
}

/** A week's decision stages (research, pitches, review, chairman); nothing of the books. */
export async function decideWeek(app: App, week: WeekInfo): Promise<void> {
  const outcome = await runWeek(app, week, DECISION_STAGES, {}, () => undefined);
  app.backtestBudget?.throwIfRefused(); // the budget refused a call: resume with a higher cap
  if (outcome.error) throw outcome.error;
  await app.artifacts.flush(); // a decided week has its files (a decide job completes after this)
}

/**
 * The week at `index` of the backtest, through its postmortem (its decisions too, if no one has made
 * them yet), then the row's count of weeks booked. Weeks are booked in order: the count moves only
 * from `index` to `index + 1`, so a late or repeated job cannot move it backwards or skip a week.
 */
export async function bookWeek(app: App, name: string, index: number, week: WeekInfo): Promise<Postmortem> {
  const whole = await runWholeWeek(app, week, {}, () => undefined);
  app.backtestBudget?.throwIfRefused(); // the budget refused a call: the week is not finished (resume with a higher cap)
  if (whole.weekly.error) throw whole.weekly.error;
  if (!whole.postmortem)
    throw new BacktestError(`the week of ${week.week_id} did not run to its postmortem (status ${whole.weekly.result.status})`);
  await app.artifacts.flush(); // a week that counts as booked has its files
  await countWeekDone(app.store.db, { name, before: index, after: index + 1, now: new Date() });
  return whole.postmortem;
}

/** One more week booked: the count moves from `before` to `after` only (a week is never counted twice). */
const countWeekDone = reusableStatement((db, $: Slots<{ name: string; before: number; after: number; now: Date }>) =>
  db
    .update(backtests)
    .set({ weeksDone: sql`${$.after}`, updatedAt: encodedAs($.now, backtests.updatedAt) })
    .where(and(eq(backtests.name, $.name), eq(backtests.weeksDone, $.before))),
);

/**
 * Records why a backtest stopped (the same command continues it): marks it failed with `error`. Given
 * the `run` the failure happened in, only if that is still the current run: a job of an earlier run
 * that fails after the backtest was continued must not stop the continuation.
 */
export async function failBacktest(db: Db, name: string, error: string, run?: string): Promise<void> {
  await db
    .update(backtests)
    .set({ status: 'failed', error, updatedAt: new Date() })
    .where(and(eq(backtests.name, name), ofRun(run)));
}

/** The row of `run`, or of any run when it is not known (a job enqueued before runs were stored). */
export function ofRun(run: string | undefined): SQL | undefined {
  return run === undefined ? undefined : or(isNull(backtests.run), eq(backtests.run, run));
}

/** A queue job of an earlier run of this backtest: it has nothing to do (the current run has its own). */
export function isEarlierRun(row: BacktestRow, run: string | undefined): boolean {
  return run !== undefined && row.run !== null && row.run !== run;
}

/**
 * A week's postmortem as the backtest report reads it: without the checkpoint-by-checkpoint conviction
 * paths, two thirds of each stored postmortem, which the report never shows. Leaving them in the
 * database kept about 40 MB of JSON (150 MB of objects) out of the report of the bundled range.
 */
export type WeekPostmortem = Omit<Postmortem, 'conviction_paths'>;

/** The latest postmortem event of each of the weeks (a week's postmortem is recorded as it completes). */
export async function storedPostmortems(app: App, weeks: readonly WeekInfo[]): Promise<WeekPostmortem[]> {
  if (weeks.length === 0) return [];
  const rows = await app.store.db
    .select({ weekId: events.weekId, payload: sql<WeekPostmortem>`${events.payload} - 'conviction_paths'` })
    .from(events)
    .where(
      and(
        eq(events.portfolio, app.portfolio),
        eq(events.kind, 'postmortem'),
        inArray(
          events.weekId,
          weeks.map((w) => w.week_id),
        ),
      ),
    )
    .orderBy(asc(events.id));
  const latest = new Map<string, WeekPostmortem>();
  for (const r of rows) if (r.weekId) latest.set(r.weekId, r.payload);
  return weeks.map((w) => {
    const pm = latest.get(w.week_id);
    if (!pm) throw new BacktestError(`backtest record says the week of ${w.week_id} finished, but its postmortem is missing`);
    return pm;
  });
}

/** The finished backtest as the report needs it: every week's postmortem, read back from the store. */
export async function completedRun(app: App, row: BacktestRow, weeks: readonly WeekInfo[], resumed: number): Promise<BacktestRun> {
  if (row.weeksDone < weeks.length)
    throw new BacktestError(`backtest ${row.name} has ${row.weeksDone} of ${weeks.length} weeks done: it cannot be reported yet`);
  return { name: row.name, portfolio: row.portfolio, weeks: [...weeks], postmortems: await storedPostmortems(app, weeks), resumed };
}

export interface BacktestProgress {
  weeks_done: number;
  weeks_total: number;
  /** Weeks whose decision stages are stored (at least weeks_done). */
  weeks_decided: number;
  llm_calls: number;
  llm_cost_usd: number;
}

/** Where a backtest stands, read from the store (works for any process, on any machine). */
export async function backtestProgress(db: Db, row: BacktestRow): Promise<BacktestProgress> {
  const [decided] = await db
    .select({ n: sql<string>`count(*)` })
    .from(stageRuns)
    .where(
      and(
        eq(stageRuns.portfolio, row.portfolio),
        eq(stageRuns.stage, 'chairman'),
        eq(stageRuns.status, 'completed'),
        between(stageRuns.weekId, row.fromWeek, row.toWeek),
      ),
    );
  return {
    weeks_done: row.weeksDone,
    weeks_total: row.weeksTotal,
    weeks_decided: Math.max(row.weeksDone, Number(decided?.n ?? 0)),
    ...(await llmUsageOf(db, row)),
  };
}

/**
 * Where a backtest running in this process stands: the weeks as the process counted them, and only
 * the LLM usage read from the store. Reading the weeks back cost two statements a week, and counting
 * the decided weeks read every week decided so far.
 */
export async function backtestProgressHere(
  db: Db,
  row: BacktestRow,
  weeks: { weeksDone: number; weeksDecided: number },
): Promise<BacktestProgress> {
  return {
    weeks_done: weeks.weeksDone,
    weeks_total: row.weeksTotal,
    weeks_decided: Math.max(weeks.weeksDone, weeks.weeksDecided),
    ...(await llmUsageOf(db, row)),
  };
}

/** The backtest's LLM calls and their cost so far; none for offline agents (see portfolioWeekUsage). */
async function llmUsageOf(db: Db, row: BacktestRow): Promise<Pick<BacktestProgress, 'llm_calls' | 'llm_cost_usd'>> {
  if (row.mode === 'offline') return { llm_calls: 0, llm_cost_usd: 0 };
  const [calls] = await db
    .select({ n: sql<string>`count(*)`, cost: sql<string | null>`sum(${llmCalls.costUsd})` })
    .from(llmCalls)
    .where(eq(llmCalls.portfolio, row.portfolio));
  return { llm_calls: Number(calls?.n ?? 0), llm_cost_usd: Number(calls?.cost ?? 0) };
}
