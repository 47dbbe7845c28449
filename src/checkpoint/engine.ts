/**
 * One checkpoint of a portfolio's week (DESIGN §1): for every account, the position and the week's
 * frozen indicators as knowable at the instant, the engine's verdict on the owner's invalidation
 * trigger, the owner's checkpoint_update (its PM seat, or the chairman for the council account), and
 * risk and execution of what it decided:
 *   STAY   nothing;   EXIT   close;   REDUCE   close risk.reduce_fraction of the shares (at least one);
 *   FLIP   close and open the other side, sized like the weekly trade at |conviction_after|
 *          from the equity and price at the checkpoint.
 * A flat account only STAYs (one instrument per account per week: no new trades mid-week), and so does
 * an account with an order of an earlier checkpoint that day still waiting for the close, and one
 * whose owner failed (recorded with the error: a failed checkpoint never opens anything).
 *
 * HARD RULE: no new research mid-week. Nothing here holds a researcher or a research pack.
 *
 * Resume and idempotency: each account's update is recorded after its orders; a re-run skips the
 * accounts already recorded, a completed checkpoint is a no-op unless forced, and orders carry P3's
 * order identity (checkpoint label `<date>T<time>`), so nothing is placed twice.
 */
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { App } from '../app.js';
import { planOrders } from '../broker/order-plan.js';
import { roundCash } from '../broker/money.js';
import { accountAgents } from '../council/account-agents.js';
import { completedStageOutputs } from '../council/stage-outputs.js';
import type { StageName, StageOutputs } from '../council/stage.js';
import type { WeekInfo } from '../council/week.js';
import { booksLockName } from '../council/weekly.js';
import { allThenThrow, describeError, stopsTheRun, UserError } from '../errors.js';
import { advance, copyState, emptyState, type BookState, type LedgerFill } from '../ledger/book.js';
import { recordedOrders } from '../ledger/orders.js';
import { checkNoLaterWeek, portfolioKindRefusal, PortfolioError, portfolioTag } from '../portfolio/portfolio.js';
import type { CheckpointContext, CheckpointPosition, IndicatorReading, TriggerVerdict } from '../ports/agents.js';
import { submitAll, type OrderRequest, type OrderResult, type Reconciliation } from '../ports/broker.js';
import { orderJson, type OrderJson } from '../broker/order-json.js';
import { sizePosition } from '../risk/position-sizing.js';
import { etToUtc, SESSION_OPEN } from '../market/calendar.js';
import type { CheckpointAction, CheckpointUpdate, InvalidationTrigger } from '../schemas/index.js';
import { insertRows } from '../storage/bulk-insert.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { accounts as accountRows, checkpointRuns, checkpointUpdates, orders, stageRuns } from '../storage/schema.js';
import { accountAt, ownerPlan, type HeldPosition, type OwnerPlan } from './account-state.js';
import { indicatorSet, readIndicators, returnSinceEntry, type Instant } from './indicator-set.js';
import { MarketView, quoteLabel } from './market-view.js';
import type { CheckpointSlot } from './schedule.js';
import { evaluateTrigger } from './trigger.js';
import { SlotWrites, type CheckpointRunRow } from './slot-writes.js';
import { checkpointUpdateProblems } from './update-rules.js';

export class CheckpointError extends UserError {}

export type UpdateStatus = 'ok' | 'failed' | 'flat' | 'pending';

/** One account at one checkpoint, as `checkpoint --json` reports it (DESIGN §2 plus the engine's detail). */
export interface AccountUpdate {
  account_id: number;
  owner: string;
  agent: string;
  status: UpdateStatus;
  action: CheckpointAction;
  /** What the owner answered (null when it was not asked or failed). */
  proposed_action: CheckpointAction | null;
  conviction_before: number;
  conviction_after: number;
  reason: string;
  /** The engine's verdict: the trigger that fired, or null. */
  invalidation_fired: string | null;
  /** What the owner said fired. */
  claimed_invalidation: string | null;
  trigger: TriggerVerdict | null;
  position: CheckpointPosition | null;
  indicators_snapshot: IndicatorReading[];
  /** The first order this update placed, or null (DESIGN §2); every one in `orders`. */
  order: OrderJson | null;
  orders: OrderJson[];
  error: string | null;
}

export interface CheckpointResult {
  portfolio: string;
  week_id: string;
  checkpoint_et: string;
  date: string;
  time: string;
  status: 'completed' | 'skipped';
  /** Why it was skipped. */
  reason: string | null;
  /** The checkpoint had already run: its stored result (re-run with --force). */
  already_run: boolean;
  /** When its orders fill: the open (decided before it) or the session's close. */
  fills_at: string;
  updates: AccountUpdate[];
  /** Alpaca's sub-ledger mode, after a checkpoint that placed orders: the books against the paper account. */
  reconciliation?: Reconciliation;
}

export interface CheckpointOptions {
  force?: boolean;
  signal?: AbortSignal;
}

interface WeekPlans {
  pitches: StageOutputs['pm_pitches'];
  chairman?: StageOutputs['chairman'];
  risk: StageOutputs['risk'];
}

// Only what a checkpoint reads (the snapshot, research and reviews are large and not needed); the
// execution only has to have completed: its output (orders, accounts) is not read.
const selectWeekPlans = completedStageOutputs(
  ['pm_pitches', 'chairman', 'risk', 'execute'],
  sql<unknown>`case ${stageRuns.stage} when 'execute' then null else ${stageRuns.output} end`,
);

/** The weekly outputs a checkpoint stands on; refuses a week that has not been executed. */
async function weekPlans(app: App, week: WeekInfo): Promise<WeekPlans> {
  const rows = await selectWeekPlans(app.store.db, { portfolio: app.portfolio, weekId: week.week_id });
  const of = <S extends StageName>(s: S) => rows.find((r) => r.stage === s)?.output as StageOutputs[S] | undefined;
  const pitches = of('pm_pitches');
  const risk = of('risk');
  if (!pitches || !risk || !rows.some((r) => r.stage === 'execute'))
    throw new CheckpointError(
      `the week of ${week.week_id} has not been executed in portfolio ${app.portfolio}: run \`llm-trading run_weekly --week ${week.week_id}\` first`,
    );
  const chairman = of('chairman');
  return { pitches, risk, ...(chairman ? { chairman } : {}) };
}

/** Runs one checkpoint slot (see the file comment). */
export async function runCheckpoint(
  app: App,
  week: WeekInfo,
  slot: CheckpointSlot,
  options: CheckpointOptions = {},
): Promise<CheckpointResult> {
  const [result] = await runCheckpoints(app, week, [slot], options);
  return result as CheckpointResult;
}

/**
 * Runs checkpoint slots of one week in order, under one hold of the portfolio's books lock: what does
 * not change from one slot to the next (the week's plans, the accounts, that no later week has
 * traded) is read once. `onResult` hears each slot as it completes.
 */
export async function runCheckpoints(
  app: App,
  week: WeekInfo,
  slots: readonly CheckpointSlot[],
  options: CheckpointOptions = {},
  onResult: (result: CheckpointResult) => void = () => undefined,
): Promise<CheckpointResult[]> {
  const refusal = await portfolioKindRefusal(app.store.db, app.portfolio, app.portfolioKind);
  const release = await app.store.locks.acquire(booksLockName(app.portfolio), { timeoutMs: app.lockTimeoutMs });
  try {
    const db = app.store.db;
    const weekRuns = await checkpointRunsOfWeek(db, { portfolio: app.portfolio, weekId: week.week_id });
    // Another kind's portfolio (a backtest's) is not this command's to write to; the slots it has
    // already run can still be shown, as they are stored.
    const readOnly = refusal !== null;
    if (refusal && (options.force || !slots.every((slot) => ranBefore(weekRuns, slot)))) throw new PortfolioError(refusal);
    const session: WeekSession = {
      plans: await weekPlans(app, week),
      accounts: await accountsOfPortfolio(db, { portfolio: app.portfolio }),
      noLaterWeek: false,
      // Prices and indicators at an instant do not change: the previous checkpoint's are read again.
      view: new MarketView(app.marketData),
      weekRuns,
      convictions: await convictionsOfWeek(db, { portfolio: app.portfolio, weekId: week.week_id }),
      ledger: null,
      writes: new SlotWrites(),
    };
    const results: CheckpointResult[] = [];
    try {
      for (const slot of slots) {
        const ran = await runLocked(app, week, slot, options, session);
        const result =
          readOnly && ran.already_run ? { ...ran, reason: `portfolio ${app.portfolio} belongs to a backtest: shown as it ran` } : ran;
        results.push(result);
        onResult(result);
      }
    } catch (error) {
      // The slots that finished are written as they would have been had this one not failed (when
      // the database itself failed, the original error is the one to report).
      await session.writes.flush(app).catch(() => undefined);
      throw error;
    }
    await session.writes.flush(app);
    return results;
  } finally {
    await release();
  }
}

/** The slot is recorded as run (completed, or skipped: not a trading time). */
function ranBefore(weekRuns: readonly (typeof checkpointRuns.$inferSelect)[], slot: CheckpointSlot): boolean {
  return weekRuns.some((r) => r.checkpointAt.getTime() === slot.at.getTime() && (r.status === 'completed' || r.status === 'skipped'));
}

/** Reads shared by the slots of one runCheckpoints call (valid while it holds the books lock). */
interface WeekSession {
  plans: WeekPlans;
  accounts: (typeof accountRows.$inferSelect)[];
  /** Checked once: no later week has traded. */
  noLaterWeek: boolean;
  view: MarketView;
  /** The week's checkpoint slots recorded so far, in time order (kept up to date as slots run). */
  weekRuns: (typeof checkpointRuns.$inferSelect)[];
  /** Every update's conviction after, in time order (kept up to date). */
  convictions: { accountId: number; at: Date; after: number }[];
  /**
   * Each account's book before the week's first fill instant (earlier weeks do not change), its fills
   * from then on, and the week's orders; null once a slot has traded (read again).
   */
  ledger: WeekLedger | null;
  /** Rows of finished slots not written yet (slot-writes.ts). */
  writes: SlotWrites;
}

async function runLocked(
  app: App,
  week: WeekInfo,
  slot: CheckpointSlot,
  options: CheckpointOptions,
  session: WeekSession,
): Promise<CheckpointResult> {
  const db = app.store.db;
  const plans = session.plans;
  // The week's checkpoint slots so far: this one's state, the one before it and any after it.
  const weekRuns = session.weekRuns;
  const runRow = (status: string, reason: string | null = null): CheckpointRunRow => ({
    portfolio: app.portfolio,
    weekId: week.week_id,
    checkpointAt: slot.at,
    date: slot.date,
    time: slot.time,
    status,
    reason,
  });
  const record = (status: string, reason: string | null) => {
    const row = { ...runRow(status, reason), reason, createdAt: new Date(), updatedAt: new Date() };
    session.weekRuns = [...weekRuns.filter((r) => r.checkpointAt.getTime() !== slot.at.getTime()), row].sort(
      (a, b) => a.checkpointAt.getTime() - b.checkpointAt.getTime(),
    );
  };
  const existing = weekRuns.find((r) => r.checkpointAt.getTime() === slot.at.getTime());
  // The checkpoint as orders and reconciliations name it.
  const label = `${slot.date}T${slot.time}`;
  const completed = weekRuns.filter((r) => r.status === 'completed');
  const result = (
    status: CheckpointResult['status'],
    updates: AccountUpdate[],
    extra: Partial<CheckpointResult> = {},
  ): CheckpointResult => ({
    portfolio: app.portfolio,
    week_id: week.week_id,
    checkpoint_et: slot.checkpoint_et,
    date: slot.date,
    time: slot.time,
    status,
    reason: null,
    already_run: false,
    fills_at: slot.fills_at.toISOString(),
    updates,
    ...extra,
  });

  if (slot.skip) {
    session.writes.hold({ run: runRow('skipped', slot.skip), updates: [], event: null, artifact: null });
    if (!existing) record('skipped', slot.skip);
    return result('skipped', [], { reason: slot.skip });
  }
  // What this slot reads of its own rows must be written first (a slot run twice in one call).
  if (existing) await session.writes.flush(app);
  if (existing?.status === 'completed' && !options.force) {
    const updates = await storedUpdates(app, slot);
    // A process killed after the slot committed, before its file was written (a backtest writes its
    // files behind: the week's are flushed only before it counts as booked): written again from the rows.
    const name = checkpointArtifactName(slot);
    if (!app.artifacts.hasStage(week.week_id, name)) {
      // With the reconciliation the first run stored after its orders (Alpaca's sub-ledger mode).
      const reconciliation = (await app.broker.storedReconciliation?.({ weekId: week.week_id, checkpoint: label })) ?? null;
      await app.artifacts.writeStage(week.week_id, name, result('completed', updates, reconciliation ? { reconciliation } : {}), []);
    }
    return result('completed', updates, { already_run: true });
  }

  // Only a checkpoint that will trade needs the portfolio's clock behind it: no later week traded
  // (so no later week's checkpoint either), and no later checkpoint of this week.
  if (!session.noLaterWeek) {
    await checkNoLaterWeek(db, app.portfolio, week.week_id);
    session.noLaterWeek = true;
  }
  const later = completed.filter((r) => r.checkpointAt > slot.at).at(-1);
  if (later)
    throw new CheckpointError(
      `portfolio ${app.portfolio} has already run the ${later.date} ${later.time} checkpoint, after ${slot.date} ${slot.time}: time only moves forward in a portfolio`,
    );

  // The slot is marked running before its first order, with the rows of the slots before it (a crash
  // after it resumes from what is stored); a slot that places nothing writes its rows later
  // (slot-writes.ts), so a crash before then leaves nothing.
  let marked = false;
  const markRunning = async () => {
    if (marked) return;
    marked = true;
    await session.writes.flush(app, runRow('running'));
  };
  // A slot already recorded (a forced re-run, a resume) is running again at once: its updates go now.
  if (existing) await markRunning();
  // A forced re-run decides again; orders already placed stay (a re-run trades only the difference).
  if (options.force)
    await db
      .delete(checkpointUpdates)
      .where(and(eq(checkpointUpdates.portfolio, app.portfolio), eq(checkpointUpdates.checkpointAt, slot.at)));

  // A checkpoint that never started has nothing stored: no need to look.
  const before = existing ? await storedUpdates(app, slot) : [];
  const done = new Set(before.map((u) => u.account_id));
  const view = session.view;
  const agents = accountAgents(app.config, plans.pitches, plans.chairman);
  // Each indicator's "previous": the week's previous checkpoint that ran, else the weekly decision.
  const previous: Instant = completed.filter((r) => r.checkpointAt < slot.at).at(-1) ?? {
    date: week.fill_date,
    time: app.config.schedule.weekly.time,
  };
  const stored = session.accounts;

  // What every account needs, read once per checkpoint (not once per account).
  // Independent reads: on PostgreSQL they go out together.
  const [ledger, slotOrders] = await Promise.all([
    session.ledger ?? readLedger(app, week, session),
    existing ? recordedOrders(db, app.portfolio, { weekId: week.week_id, checkpoint: label }) : Promise.resolve([]),
  ]);
  session.ledger = ledger;
  const convictions = new Map(session.convictions.filter((c) => c.at < slot.at).map((c) => [c.accountId, c.after]));
  const shared: SharedReads = { convictions, ledger, weekOrders: ledger.weekOrders, slotOrders };

  // Decide every account first (LLM owners answer in parallel), then trade them one by one. When one
  // stops the run (the backtest's budget), the others' calls in flight still finish before it stops.
  const pending = app.config.models.accounts.filter((a) => !done.has(a.id));
  const decided = await allThenThrow(
    pending.map(async (account) => {
      if (!stored.some((r) => r.id === account.id))
        throw new CheckpointError(`account ${account.id} does not exist in portfolio ${app.portfolio}`);
      return decide(app, week, slot, previous, view, plans, shared, account, agents.get(account.owner) ?? 'unknown', options);
    }),
  );
  // Every account's orders go to the broker together (a broker that nets them, Alpaca's sub-ledger
  // mode, sees the whole checkpoint), then each trading account's update is recorded; the accounts
  // that place nothing are recorded together later, since deciding them again changes nothing. A crash
  // between the orders and the updates re-decides those accounts on resume as they decided before (from
  // the book at this instant), and plans from the books their recorded orders left (a recorded order
  // moves the order ids on: nothing is placed twice).
  const trades = decided.map((d) => ({ d, ...planFor(app, week, slot, d, shared) }));
  const traded = trades.some((p) => p.traded);
  if (traded) {
    await markRunning();
    session.ledger = null; // the fills and orders change
    // Printed prices only: a decision before the open fills at the open, one after it at the close.
    app.clock.set(slot.fills_at);
  }
  const placed = await submitAll(
    app.broker,
    trades.flatMap((p) => p.requests),
  );
  const quiet: UpdateRow[] = [];
  const tradedRows: UpdateRow[] = [];
  const fresh: AccountUpdate[] = [];
  for (const { d, traded: tradedHere } of trades) {
    // The account's orders already at this checkpoint (a resumed or forced run's), then this run's.
    const orders = shared.slotOrders.filter((o) => o.accountId === d.account_id);
    for (const r of placed)
      if (r.accountId === d.account_id && !orders.some((o) => o.clientOrderId === r.clientOrderId)) orders.push({ ...r, duplicate: false });
    const row = updateRow(app, week, slot, d, orders);
    (tradedHere ? tradedRows : quiet).push(row);
    fresh.push(updateOf(row, orders));
  }
  // The trading accounts' updates, recorded right after their orders (in one statement).
  await insertRows(db, checkpointUpdates, tradedRows, { onConflictDoNothing: {} });
  await settleAuctionOrders(app, fresh);
  // Books kept beside one real account (Alpaca's sub-ledger mode) are reconciled after every execution.
  const reconciliation = traded && app.broker.reconcile ? await app.broker.reconcile({ weekId: week.week_id, checkpoint: label }) : null;

  const updates = before.length === 0 ? fresh : await storedUpdates(app, slot);
  const final = result('completed', updates, reconciliation ? { reconciliation } : {});
  session.writes.hold({
    run: runRow('completed'),
    updates: quiet,
    artifact: { weekId: week.week_id, name: checkpointArtifactName(slot), content: final },
    event: {
      key: `checkpoint:${app.portfolio}:${slot.at.toISOString()}:${Date.now()}`,
      portfolio: app.portfolio,
      weekId: week.week_id,
      kind: 'checkpoint',
      stage: 'checkpoint',
      // The decisions in brief: the full updates (indicators, positions) are the checkpoint_updates rows
      // and the checkpoint's artifact file.
      payload: {
        checkpoint_et: slot.checkpoint_et,
        updates: final.updates.map((u) => ({
          account_id: u.account_id,
          agent: u.agent,
          status: u.status,
          action: u.action,
          conviction_before: u.conviction_before,
          conviction_after: u.conviction_after,
          invalidation_fired: u.invalidation_fired,
          order_ids: u.orders.map((o) => o.client_order_id),
        })),
      },
    },
  });
  record('completed', null);
  session.convictions = [
    ...session.convictions.filter((c) => c.at.getTime() !== slot.at.getTime()),
    ...updates.map((u) => ({ accountId: u.account_id, at: slot.at, after: u.conviction_after })),
  ];
  return final;
}

interface Decision {
  account_id: number;
  owner: string;
  agent: string;
  status: UpdateStatus;
  proposed: CheckpointUpdate | null;
  action: CheckpointAction;
  conviction_before: number;
  conviction_after: number;
  reason: string;
  trigger: TriggerVerdict | null;
  position: CheckpointPosition | null;
  held: HeldPosition | null;
  indicators: IndicatorReading[];
  error: string | null;
  /** FLIP: the signed target of the other side. */
  flipTarget: number | null;
}

interface WeekLedger {
  /** Each account's book before the week's first fill instant. */
  opening: Map<number, BookState>;
  /** Each account's fills from then on (any instant, this slot's or later: what it holds now). */
  fills: Map<number, LedgerFill[]>;
  weekOrders: SharedReads['weekOrders'];
}

/** The slot's file: runs/<portfolio>/<week>/normalized/checkpoint-<date>-<HHMM>.json. */
function checkpointArtifactName(slot: { date: string; time: string }): string {
  return `checkpoint-${slot.date}-${slot.time.replace(':', '')}`;
}

/** An account's book after its fills of the week up to `through` (all of them without it). */
function bookOf(ledger: WeekLedger, accountId: number, through?: Date): BookState {
  const opening = ledger.opening.get(accountId);
  const state = opening ? copyState(opening) : emptyState(0);
  const fills = ledger.fills.get(accountId) ?? [];
  return advance(state, through === undefined ? fills : fills.filter((f) => f.filledAt <= through));
}

interface SharedReads {
  /** Each account's conviction after its latest checkpoint update of the week before this one. */
  convictions: Map<number, number>;
  ledger: WeekLedger;
  weekOrders: {
    accountId: number;
    side: string;
    qty: number;
    ticker: string;
    submittedAt: Date;
    filledAt: Date | null;
    checkpoint: string;
  }[];
  /** Orders already at this checkpoint (a resumed or forced run). */
  slotOrders: OrderResult[];
}

/**
 * Each account's book before the week and its fills since (a slot takes those up to its instant), and
 * the week's orders. The App's ledger reads only the fills added since it last read (earlier weeks'
 * books are carried forward), so this is read again after a trade.
 */
async function readLedger(app: App, week: WeekInfo, session: WeekSession): Promise<WeekLedger> {
  const weekStart = etToUtc(week.fill_date, SESSION_OPEN);
  const [, weekOrders] = await Promise.all([
    app.ledger.refresh(app.store.db, app.portfolio),
    ordersOfWeek(app.store.db, { portfolio: app.portfolio, weekId: week.week_id }),
  ]);
  const opening = new Map<number, BookState>();
  const fills = new Map<number, LedgerFill[]>();
  for (const account of session.accounts) {
    opening.set(account.id, app.ledger.stateBefore(account.id, account.startingCash, weekStart));
    fills.set(account.id, app.ledger.fillsFrom(account.id, weekStart));
  }
  return { opening, fills, weekOrders };
}

function weeklyConviction(risk: WeekPlans['risk'], accountId: number): number {
  const intent = risk.intents.find((i) => i.account_id === accountId);
  return intent?.status === 'trade' && !intent.seat_failed ? (intent.conviction ?? 0) : 0;
}

async function decide(
  app: App,
  week: WeekInfo,
  slot: CheckpointSlot,
  previous: Instant,
  view: MarketView,
  plans: WeekPlans,
  shared: SharedReads,
  account: { id: number; owner: string },
  agent: string,
  options: CheckpointOptions,
): Promise<Decision> {
  const before = shared.convictions.get(account.id) ?? weeklyConviction(plans.risk, account.id);
  const state = accountAt(bookOf(shared.ledger, account.id, slot.at));
  const base: Decision = {
    account_id: account.id,
    owner: account.owner,
    agent,
    status: 'flat',
    proposed: null,
    action: 'STAY',
    conviction_before: before,
    conviction_after: before,
    reason: '',
    trigger: null,
    position: null,
    held: state.position,
    indicators: [],
    error: null,
    flipTarget: null,
  };
  const held = state.position;
  if (!held) return { ...base, reason: 'flat: nothing to update (no new trades mid-week: one instrument per account per week)' };

  const now: Instant = { date: slot.date, time: slot.time };
  const quoteView = await view.at(held.ticker, slot.date, slot.time);
  const price = quoteView.quote.price;
  const equity = roundCash(state.cash + held.qty * price);
  const position: CheckpointPosition = {
    ticker: held.ticker,
    direction: held.qty > 0 ? 'LONG' : 'SHORT',
    qty: held.qty,
    avg_entry_price: held.avg_entry_price,
    price,
    price_source: quoteLabel(quoteView.quote),
    unrealized_pnl: roundCash(held.qty * (price - held.avg_entry_price)),
    return_since_entry: returnSinceEntry(held, price),
    equity,
  };
  const plan = ownerPlan(account.owner, plans.pitches, plans.chairman) ?? fallbackPlan(held);
  const indicators = await readIndicators(
    view,
    indicatorSet(
      plan.key_indicators.map((k) => k.name),
      held.ticker,
      app.config.tickers,
    ),
    now,
    previous,
    held,
  );
  // The week's trigger belongs to the week's position: after a FLIP it no longer applies.
  const applies = plan.trigger !== null && plan.direction === position.direction;
  const trigger = applies ? await evaluateTrigger(view, plan.trigger as InvalidationTrigger, now, held) : null;
  const withPosition = { ...base, position, indicators, trigger, status: 'ok' as UpdateStatus };

  // An order of an earlier checkpoint today waits for the close: its fill is not known yet. This
  // checkpoint's own orders (a run resumed after they were recorded) are not earlier ones: the account
  // decides as it did before them, from the book at this instant.
  const label = `${slot.date}T${slot.time}`;
  const waiting = shared.weekOrders.filter(
    (o) =>
      o.accountId === account.id && o.checkpoint !== label && o.filledAt !== null && o.filledAt > slot.at && o.submittedAt <= slot.fills_at,
  );
  if (waiting.length > 0)
    return {
      ...withPosition,
      status: 'pending',
      reason: `an order of an earlier checkpoint (${waiting.map((o) => `${o.side} ${o.qty} ${o.ticker}`).join(', ')}) fills at today's close: no new decision until it has filled`,
    };

  const ctx: CheckpointContext = {
    week_id: week.week_id,
    checkpoint_et: slot.checkpoint_et,
    date: slot.date,
    time: slot.time,
    account_id: account.id,
    owner: account.owner,
    universe: app.config.assets.assets,
    conviction_before: before === 0 ? Math.sign(held.qty) : before,
    horizon: plan.horizon,
    position,
    thesis_bullets: plan.thesis_bullets,
    invalidation_rule: plan.invalidation_rule,
    key_indicators: plan.key_indicators,
    indicators,
    trigger,
  };
  const owner = account.owner === 'council' ? app.agents.chairman : app.agents.pms.get(account.owner);
  try {
    if (!owner) throw new Error(`no agent sits in seat ${account.owner}`);
    const answer = await owner.checkpoint(ctx, { signal: options.signal ?? new AbortController().signal });
    const problems = checkpointUpdateProblems(answer.output, ctx);
    if (problems.length > 0) throw new Error(`inconsistent checkpoint_update: ${problems.join('; ')}`);
    const u = answer.output;
    const decision: Decision = {
      ...withPosition,
      agent: answer.model,
      proposed: u,
      action: u.action,
      conviction_before: ctx.conviction_before,
      conviction_after: u.conviction_after,
      reason: u.reason,
    };
    if (u.action === 'FLIP') {
      const direction = u.conviction_after > 0 ? 'LONG' : 'SHORT';
      const vol = quoteView.measures.realized_vol_20d;
      const sized = sizePosition({
        direction,
        conviction: u.conviction_after,
        price,
        dailyVol: vol === null ? null : vol / Math.sqrt(252),
        equity,
        risk: app.config.models.risk,
      });
      decision.flipTarget = sized.targetQty;
    }
    return decision;
  } catch (error) {
    // The backtest's budget refused the call: not the owner's failure — the run stops, and the
    // resumed checkpoint asks again (nothing is recorded for this account).
    if (stopsTheRun(error)) throw error;
    return {
      ...withPosition,
      status: 'failed',
      conviction_before: ctx.conviction_before,
      conviction_after: ctx.conviction_before,
      error: describeError(error),
      reason: `the owner did not answer (${describeError(error)}): the account stays as it is`,
    };
  }
}

/** A position without a stored plan (its owner's pitch failed but the account kept it under on_seat_failure: hold). */
function fallbackPlan(held: HeldPosition): OwnerPlan {
  return {
    ticker: held.ticker,
    direction: held.qty > 0 ? 'LONG' : 'SHORT',
    horizon: '1W',
    thesis_bullets: ['No plan was recorded for this position this week (its owner failed).'],
    invalidation_rule: 'none recorded',
    trigger: null,
    key_indicators: [],
  };
}

/** The signed target holding an applied action leads to, or undefined when nothing is traded. */
function targetOf(d: Decision, reduceFraction: number): { ticker: string; qty: number } | null | undefined {
  const held = d.held;
  if (!held || d.status !== 'ok') return undefined;
  switch (d.action) {
    case 'STAY':
      return undefined;
    case 'EXIT':
      return null;
    case 'REDUCE': {
      const cut = Math.min(Math.abs(held.qty), Math.max(1, Math.floor(Math.abs(held.qty) * reduceFraction)));
      const left = Math.abs(held.qty) - cut;
      return left === 0 ? null : { ticker: held.ticker, qty: Math.sign(held.qty) * left };
    }
    case 'FLIP':
      return d.flipTarget ? { ticker: held.ticker, qty: d.flipTarget } : null;
  }
}

type UpdateRow = typeof checkpointUpdates.$inferInsert & { createdAt?: Date };

/**
 * A broker whose orders can stay open (Alpaca: 15:50 orders go to the closing auction, orders before
 * the open to the opening one) is waited for, within its deadline, after every account has placed its
 * orders — so the auction takes them together — and the updates show the orders as they ended (still
 * 'accepted' if the deadline passed: the broker records the fill when it comes, and the next
 * checkpoint reads it from the ledger).
 */
async function settleAuctionOrders(app: App, updates: AccountUpdate[]): Promise<void> {
  const open = updates.flatMap((u) => u.orders.filter((o) => o.status === 'accepted').map((o) => o.client_order_id));
  if (!app.broker.awaitOrders || open.length === 0) return;
  const settled = new Map((await app.broker.awaitOrders(open)).map((o) => [o.clientOrderId, orderJson(o)]));
  for (const u of updates) {
    u.orders = u.orders.map((o) => ({ ...(settled.get(o.client_order_id) ?? o), duplicate: o.duplicate }));
    u.order = u.orders[0] ?? null;
  }
}

/** The orders the decision's action needs (none for STAY), from what the account holds now. */
function planFor(
  app: App,
  week: WeekInfo,
  slot: CheckpointSlot,
  d: Decision,
  shared: SharedReads,
): { requests: OrderRequest[]; traded: boolean } {
  const target = targetOf(d, app.config.models.risk.reduce_fraction);
  if (target === undefined) return { requests: [], traded: false };
  // The plan starts from what the account holds now (its fills so far, after this instant too), after
  // the orders it already has at this checkpoint (a resumed or forced run's).
  const held = bookOf(shared.ledger, d.account_id).book.positions;
  const requests = planOrders({
    portfolioTag: portfolioTag(app.portfolio),
    weekId: week.week_id,
    accountId: d.account_id,
    checkpoint: `${slot.date}T${slot.time}`,
    sequence: shared.slotOrders.filter((o) => o.accountId === d.account_id).length,
    positions: [...held].map(([ticker, qty]) => ({ ticker, qty })),
    target,
  });
  return { requests, traded: true };
}

/** The account's update row at this checkpoint, with the orders it placed. */
function updateRow(app: App, week: WeekInfo, slot: CheckpointSlot, d: Decision, orders: readonly OrderResult[]): UpdateRow {
  return {
    portfolio: app.portfolio,
    weekId: week.week_id,
    checkpointAt: slot.at,
    accountId: d.account_id,
    owner: d.owner,
    agent: d.agent,
    status: d.status,
    proposedAction: d.proposed?.action ?? null,
    action: d.status === 'ok' ? d.action : 'STAY',
    convictionBefore: d.conviction_before,
    convictionAfter: d.status === 'ok' ? d.conviction_after : d.conviction_before,
    reason: d.reason,
    invalidationFired: d.trigger?.fired ? d.trigger.text : null,
    claimedInvalidation: d.proposed?.invalidation_fired ?? null,
    trigger: d.trigger,
    position: d.position,
    indicators: d.indicators,
    orderIds: orders.map((o) => o.clientOrderId),
    error: d.error,
  };
}

/** The recorded updates of one checkpoint, in account order, with their orders. */
export async function storedUpdates(app: App, slot: { at: Date; date: string; time: string; week_id: string }): Promise<AccountUpdate[]> {
  const rows = await app.store.db
    .select()
    .from(checkpointUpdates)
    .where(and(eq(checkpointUpdates.portfolio, app.portfolio), eq(checkpointUpdates.checkpointAt, slot.at)))
    .orderBy(asc(checkpointUpdates.accountId));
  if (rows.length === 0) return [];
  const orders = await recordedOrders(app.store.db, app.portfolio, { weekId: slot.week_id, checkpoint: `${slot.date}T${slot.time}` });
  return rows.map((r) =>
    updateOf(
      r,
      orders.filter((o) => o.accountId === r.accountId),
    ),
  );
}

/** An update row (stored, or just built) as `checkpoint --json` reports it, with the account's orders at the checkpoint. */
function updateOf(r: UpdateRow, mine: OrderResult[]): AccountUpdate {
  return {
    account_id: r.accountId,
    owner: r.owner,
    agent: r.agent,
    status: r.status as UpdateStatus,
    action: r.action as CheckpointAction,
    proposed_action: (r.proposedAction as CheckpointAction | null | undefined) ?? null,
    conviction_before: r.convictionBefore,
    conviction_after: r.convictionAfter,
    reason: r.reason,
    invalidation_fired: r.invalidationFired ?? null,
    claimed_invalidation: r.claimedInvalidation ?? null,
    trigger: (r.trigger as TriggerVerdict | null | undefined) ?? null,
    position: (r.position as CheckpointPosition | null | undefined) ?? null,
    indicators_snapshot: r.indicators as IndicatorReading[],
    order: mine[0] ? orderJson(mine[0]) : null,
    orders: mine.map(orderJson),
    error: r.error ?? null,
  };
}

const accountsOfPortfolio = reusableRows(getTableColumns(accountRows), (db, $: Slots<{ portfolio: string }>, fields) =>
  db.select(fields).from(accountRows).where(eq(accountRows.portfolio, $.portfolio)),
);

const checkpointRunsOfWeek = reusableRows(getTableColumns(checkpointRuns), (db, $: Slots<RunKey>, fields) =>
  db.select(fields).from(checkpointRuns).where(ofRun(checkpointRuns, $)).orderBy(asc(checkpointRuns.checkpointAt)),
);

const convictionsOfWeek = reusableRows(
  { accountId: checkpointUpdates.accountId, at: checkpointUpdates.checkpointAt, after: checkpointUpdates.convictionAfter },
  (db, $: Slots<RunKey>, fields) =>
    db.select(fields).from(checkpointUpdates).where(ofRun(checkpointUpdates, $)).orderBy(asc(checkpointUpdates.checkpointAt)),
);

const ordersOfWeek = reusableRows(
  {
    accountId: orders.accountId,
    side: orders.side,
    qty: orders.qty,
    ticker: orders.ticker,
    submittedAt: orders.submittedAt,
    filledAt: orders.filledAt,
    checkpoint: orders.checkpoint,
  },
  (db, $: Slots<RunKey>, fields) => db.select(fields).from(orders).where(ofRun(orders, $)),
);
