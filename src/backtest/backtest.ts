/**
 * A backtest (`llm-trading backtest --from W1 --to W2`): every week of the range replayed as P4's
 * whole week — the Wednesday pipeline on bars through the previous close, every checkpoint, the
 * postmortem — in the backtest's own portfolio (`bt-<name>`), one week after the other on the
 * simulated clock, so each decision sees only what was knowable then.
 *
 * Resumable: the backtest row counts the weeks finished in order; the same command after Ctrl-C or a
 * crash reads the finished weeks' postmortems back and continues at the first week not finished (that
 * week itself resumes where it stopped: P3/P4's resume rules).
 *
 * Today the weeks run one after the other in one process (PGlite or PostgreSQL); running the decision
 * stages of many weeks in parallel and sharing a backtest between workers is the rest of issue P5.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { App } from '../app.js';
import { runWholeWeek } from '../checkpoint/whole-week.js';
import { weekOf, type WeekInfo } from '../council/week.js';
import { addDays } from '../market/calendar.js';
import type { Postmortem } from '../metrics/postmortem.js';
import { UserError } from '../errors.js';
import { backtests, events } from '../storage/schema.js';

export class BacktestError extends UserError {}

export const backtestPortfolio = (name: string) => `bt-${name}`;

export interface BacktestProgress {
  done: number;
  total: number;
  week_id: string;
  /** Seconds per week so far (this process), for the ETA. */
  seconds_per_week: number | null;
}

export interface BacktestRun {
  name: string;
  portfolio: string;
  weeks: WeekInfo[];
  /** Every week's postmortem, in week order. */
  postmortems: Postmortem[];
  /** Weeks read back from an earlier, interrupted run of the same backtest. */
  resumed: number;
}

/** The decision weeks from `from` to `to` (both decision days, `to` included), one every seven days. */
export function weeksBetween(app: App, from: string, to: string): WeekInfo[] {
  if (to < from) throw new BacktestError(`--to ${to} is before --from ${from}`);
  const weeks: WeekInfo[] = [];
  for (let w = from; w <= to; w = addDays(w, 7)) weeks.push(weekOf(w, app.config));
  return weeks;
}

/** Runs (or continues) a backtest in `app`'s portfolio, which must be backtestPortfolio(name). */
export async function runBacktest(
  app: App,
  name: string,
  weeks: readonly WeekInfo[],
  onProgress: (p: BacktestProgress) => void = () => undefined,
): Promise<BacktestRun> {
  const db = app.store.db;
  const first = weeks[0];
  const last = weeks.at(-1);
  if (!first || !last) throw new BacktestError('the range holds no week');
  const [existing] = await db.select().from(backtests).where(eq(backtests.name, name));
  if (existing && (existing.fromWeek !== first.week_id || existing.toWeek !== last.week_id))
    throw new BacktestError(
      `backtest ${name} already exists for ${existing.fromWeek}..${existing.toWeek}: give the same range to continue it, or another --name`,
    );
  if (!existing)
    await db.insert(backtests).values({
      name,
      portfolio: app.portfolio,
      fromWeek: first.week_id,
      toWeek: last.week_id,
      mode: app.agents.mode,
      status: 'running',
      weeksTotal: weeks.length,
      weeksDone: 0,
    });
  else await db.update(backtests).set({ status: 'running', updatedAt: new Date() }).where(eq(backtests.name, name));

  const finished = existing?.weeksDone ?? 0;
  const postmortems = await storedPostmortems(app, weeks.slice(0, finished));
  const started = performance.now();
  for (let i = finished; i < weeks.length; i++) {
    const week = weeks[i] as WeekInfo;
    const whole = await runWholeWeek(app, week, {}, () => undefined);
    app.backtestBudget?.throwIfRefused(); // the budget refused a call: the week is not finished (resume with a higher cap)
    if (whole.weekly.error) throw whole.weekly.error;
    if (!whole.postmortem)
      throw new BacktestError(`the week of ${week.week_id} did not run to its postmortem (status ${whole.weekly.result.status})`);
    postmortems.push(whole.postmortem);
    await db
      .update(backtests)
      .set({ weeksDone: i + 1, updatedAt: new Date() })
      .where(eq(backtests.name, name));
    const ran = i + 1 - finished;
    onProgress({ done: i + 1, total: weeks.length, week_id: week.week_id, seconds_per_week: (performance.now() - started) / 1000 / ran });
  }
  return { name, portfolio: app.portfolio, weeks: [...weeks], postmortems, resumed: finished };
}

/** The latest postmortem event of each finished week (a week's postmortem is recorded as it completes). */
async function storedPostmortems(app: App, weeks: readonly WeekInfo[]): Promise<Postmortem[]> {
  if (weeks.length === 0) return [];
  const rows = await app.store.db
    .select({ weekId: events.weekId, payload: events.payload })
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
  const latest = new Map<string, Postmortem>();
  for (const r of rows) if (r.weekId) latest.set(r.weekId, r.payload as Postmortem);
  return weeks.map((w) => {
    const pm = latest.get(w.week_id);
    if (!pm) throw new BacktestError(`backtest record says the week of ${w.week_id} finished, but its postmortem is missing`);
    return pm;
  });
}
