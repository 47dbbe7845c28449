/**
 * Portfolios: a named set of the six accounts with its own books (runs, orders, fills, positions).
 * `default` holds a user's weekly runs, `demo` is npm start's, a backtest makes its own.
 *
 * Within a portfolio time only moves forward: a week whose orders would be placed before the
 * portfolio's latest order is refused (checkTimeMovesForward). Re-running the latest week is allowed,
 * and is the only way back in time: its orders are planned from what the week's own orders built.
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, gte, inArray, max, min, sql, type Placeholder } from 'drizzle-orm';
import type { Db, Tx } from '../storage/db.js';
import { reusableStatement, type Slots } from '../storage/reusable-query.js';
import { accounts, checkpointRuns, orders, portfolios, runs, stageRuns } from '../storage/schema.js';
import { UserError } from '../errors.js';

export const DEFAULT_PORTFOLIO = 'default';
export const DEMO_PORTFOLIO = 'demo';

export type PortfolioKind = 'live' | 'demo' | 'backtest';

/** Safe in file names, URLs and log lines: letters, digits, '.', '_', '-'; 1..40 characters. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export class PortfolioError extends UserError {}

export function checkPortfolioName(name: string): string {
  if (!NAME.test(name))
    throw new PortfolioError(
      `invalid portfolio name "${name}": use 1–40 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  return name;
}

/**
 * Eight hex characters of sha256(name): the portfolio's part of every client_order_id, so that two
 * portfolios trading one broker account can never share an order id.
 */
export function portfolioTag(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 8);
}

export interface PortfolioSettings {
  name: string;
  kind: PortfolioKind;
  broker: string;
  startingCash: number;
}

/** Creates the portfolio on first use; an existing one must trade on the same broker. */
export async function ensurePortfolio(db: Db | Tx, settings: PortfolioSettings): Promise<void> {
  // One round trip (every run calls this): the new row, or else the stored one.
  const created = db
    .insert(portfolios)
    .values({ name: settings.name, kind: settings.kind, broker: settings.broker, startingCash: settings.startingCash })
    .onConflictDoNothing({ target: portfolios.name })
    .returning({ broker: portfolios.broker, kind: portfolios.kind });
  const stored = db.select({ broker: portfolios.broker, kind: portfolios.kind }).from(portfolios).where(eq(portfolios.name, settings.name));
  const result = await db.execute(sql`with created as ${created} select broker, kind from created union all (${stored}) limit 1`);
  // Neither: another process created it after this statement's snapshot was taken (PostgreSQL's insert
  // waited for that process, then did nothing): read it now, so its broker is still checked.
  const row = (result as unknown as { rows: { broker: string; kind: string }[] }).rows[0] ?? (await stored)[0];
  if (row) checkSameKind(settings.name, row.kind, settings.kind);
  // A portfolio that never ran (migration 0003 creates `default` on the sim broker in every new
  // database) takes the broker of its first run.
  if (row && row.broker !== settings.broker && (await isEmptyPortfolio(db, settings.name))) {
    await db
      .update(portfolios)
      .set({ broker: settings.broker, startingCash: settings.startingCash })
      .where(eq(portfolios.name, settings.name));
    return;
  }
  if (row && row.broker !== settings.broker)
    throw new PortfolioError(
      `portfolio ${settings.name} trades on the ${row.broker} broker, not ${settings.broker}: use another portfolio (--portfolio NAME)`,
    );
}

/**
 * A backtest's portfolio is run by its backtest alone, and a backtest runs in no other kind of
 * portfolio: a `run_weekly` in a backtest's portfolio would add weeks to its books (and, while it runs,
 * move its clock past the weeks it has still to book); a backtest in a portfolio of weekly runs would
 * replay history into those books. Live and demo portfolios may be run by any weekly command.
 */
export function kindRefusal(name: string, stored: string, asked: PortfolioKind): string | null {
  if (stored === 'backtest' && asked !== 'backtest')
    return `portfolio ${name} belongs to a backtest: only \`llm-trading backtest\` runs its weeks (see \`llm-trading backtests\`); run this week in another portfolio (--portfolio NAME or LLM_TRADING_PORTFOLIO)`;
  if (stored !== 'backtest' && asked === 'backtest')
    return `portfolio ${name} holds ${stored} weekly runs, not a backtest's: give the backtest another --name`;
  return null;
}

function checkSameKind(name: string, stored: string, asked: PortfolioKind): void {
  const refusal = kindRefusal(name, stored, asked);
  if (refusal) throw new PortfolioError(refusal);
}

/** The kind the portfolio was created as; null when it does not exist yet. */
export async function storedPortfolioKind(db: Db | Tx, name: string): Promise<string | null> {
  const [row] = await db.select({ kind: portfolios.kind }).from(portfolios).where(eq(portfolios.name, name));
  return row?.kind ?? null;
}

/**
 * Why a command of `kind` may not write to the portfolio (kindRefusal), for the commands that write to
 * a portfolio without creating it (checkpoints); null when it may. Backtests skip it: their own code
 * checks the portfolio before the first week.
 */
export async function portfolioKindRefusal(db: Db | Tx, name: string, kind: PortfolioKind): Promise<string | null> {
  if (kind === 'backtest') return null;
  const stored = await storedPortfolioKind(db, name);
  return stored ? kindRefusal(name, stored, kind) : null;
}

/** No run, account or order belongs to the portfolio yet. */
async function isEmptyPortfolio(db: Db | Tx, name: string): Promise<boolean> {
  const [run] = await db
    .select({ one: sql`1` })
    .from(runs)
    .where(eq(runs.portfolio, name))
    .limit(1);
  if (run) return false;
  const [account] = await db
    .select({ one: sql`1` })
    .from(accounts)
    .where(eq(accounts.portfolio, name))
    .limit(1);
  if (account) return false;
  const [order] = await db
    .select({ one: sql`1` })
    .from(orders)
    .where(eq(orders.portfolio, name))
    .limit(1);
  return !order;
}

/**
 * The latest week the portfolio has traded: the latest week with an order, or whose risk or execute
 * stage completed (a week that ended flat trades nothing but still moved the books' clock).
 */
export async function latestTradedWeek(db: Db | Tx, portfolio: string): Promise<string | null> {
  return (await clockOf(db, portfolio)).latest;
}

/**
 * What the portfolio's clock stands on, in one round trip (a weekly run checks it twice, a checkpoint
 * run once): the latest traded week (see latestTradedWeek) and, from `checkpointsFrom` on, the first
 * completed checkpoint ('YYYY-MM-DD HH:MM').
 */
async function clockOf(
  db: Db | Tx,
  portfolio: string,
  checkpointsFrom?: string,
): Promise<{ latest: string | null; checkpoint: string | null }> {
  const result =
    checkpointsFrom === undefined
      ? await tradedWeeks(db, { portfolio })
      : await tradedWeeksAndCheckpoint(db, { portfolio, checkpointsFrom });
  const row = (result as { rows: { ordered: string | null; executed: string | null; checkpoint: string | null }[] }).rows[0];
  const weeks = [row?.ordered, row?.executed].filter((w): w is string => typeof w === 'string');
  return { latest: weeks.length === 0 ? null : weeks.sort().at(-1)!, checkpoint: row?.checkpoint ?? null };
}

/** clockOf's statement: `select <latest ordered week>, <latest executed week>, <first checkpoint from a week on>`. */
function clockStatement(db: Db | Tx, portfolio: Placeholder, checkpointsFrom: Placeholder | null) {
  const ordered = db
    .select({ week: max(orders.weekId) })
    .from(orders)
    .where(eq(orders.portfolio, portfolio));
  const executed = db
    .select({ week: max(stageRuns.weekId) })
    .from(stageRuns)
    .where(and(eq(stageRuns.portfolio, portfolio), inArray(stageRuns.stage, ['risk', 'execute']), eq(stageRuns.status, 'completed')));
  const checkpoint =
    checkpointsFrom === null
      ? sql`null`
      : db
          .select({ at: sql`${checkpointRuns.date} || ' ' || ${checkpointRuns.time}` })
          .from(checkpointRuns)
          .where(
            and(
              eq(checkpointRuns.portfolio, portfolio),
              gte(checkpointRuns.weekId, checkpointsFrom),
              eq(checkpointRuns.status, 'completed'),
            ),
          )
          .limit(1);
  return sql`select ${ordered} as ordered, ${executed} as executed, ${checkpoint} as checkpoint`;
}

const tradedWeeks = reusableStatement((db, $: Slots<{ portfolio: string }>) => clockStatement(db, $.portfolio, null));
const tradedWeeksAndCheckpoint = reusableStatement((db, $: Slots<{ portfolio: string; checkpointsFrom: string }>) =>
  clockStatement(db, $.portfolio, $.checkpointsFrom),
);

export class TimeTravelError extends UserError {}

/**
 * Refuses to trade week `weekId` when the portfolio has already traded a later week: books cannot be
 * rewritten backwards (a fill in the past would change every later week's results). The latest week
 * itself may be re-run. Weeks never overlap, so comparing week ids compares their trading times.
 */
export async function checkTimeMovesForward(db: Db | Tx, portfolio: string, weekId: string): Promise<void> {
  const { latest, checkpoint } = await clockOf(db, portfolio, weekId);
  refuseLaterWeek(portfolio, weekId, latest);
  // Checkpoints after a week's execution moved its books on: the week's own execution is in their past.
  if (checkpoint !== null)
    throw new TimeTravelError(
      `portfolio ${portfolio} has already run the ${checkpoint} checkpoint, after the execution of the week of ${weekId}: ` +
        `time only moves forward in a portfolio; re-run this week in another one (--portfolio NAME or LLM_TRADING_PORTFOLIO)`,
    );
}

/** Refuses week `weekId` when the portfolio has traded a later week (checkpoints of `weekId` itself may follow its execution). */
export async function checkNoLaterWeek(db: Db | Tx, portfolio: string, weekId: string): Promise<void> {
  refuseLaterWeek(portfolio, weekId, await latestTradedWeek(db, portfolio));
}

function refuseLaterWeek(portfolio: string, weekId: string, latest: string | null): void {
  if (latest === null || latest <= weekId) return;
  throw new TimeTravelError(
    `portfolio ${portfolio} has already traded the week of ${latest}, after the week of ${weekId}: ` +
      `time only moves forward in a portfolio; run this week in another one (--portfolio NAME or LLM_TRADING_PORTFOLIO)`,
  );
}

export interface PortfolioSummary {
  name: string;
  kind: string;
  broker: string;
  starting_cash: number;
  created_at: string;
  first_week: string | null;
  last_week: string | null;
  weeks: number;
}

export async function listPortfolios(db: Db): Promise<PortfolioSummary[]> {
  const rows = await db
    .select({
      name: portfolios.name,
      kind: portfolios.kind,
      broker: portfolios.broker,
      startingCash: portfolios.startingCash,
      createdAt: portfolios.createdAt,
      firstWeek: min(runs.weekId),
      lastWeek: max(runs.weekId),
      weeks: sql<string>`count(${runs.weekId})`,
    })
    .from(portfolios)
    .leftJoin(runs, eq(runs.portfolio, portfolios.name))
    .groupBy(portfolios.name)
    .orderBy(asc(portfolios.createdAt), asc(portfolios.name));
  return rows.map((r) => ({
    name: r.name,
    kind: r.kind,
    broker: r.broker,
    starting_cash: r.startingCash,
    created_at: r.createdAt.toISOString(),
    first_week: r.firstWeek,
    last_week: r.lastWeek,
    weeks: Number(r.weeks),
  }));
}

export async function portfolioExists(db: Db, name: string): Promise<boolean> {
  const [row] = await db
    .select({ name: portfolios.name })
    .from(portfolios)
    .where(and(eq(portfolios.name, name)));
  return row !== undefined;
}
