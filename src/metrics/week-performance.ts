/**
 * One week of the six accounts, measured from their fills, the daily closes and the intraday
 * checkpoints: the numbers of the postmortem. Pure: the caller gathers the fills, the prices, the
 * convictions and the checkpoint actions (postmortem.ts).
 *
 * Each account is replayed from its starting cash through every fill it ever had, with the broker's
 * own money rules (money.ts): a buy costs round2(qty × price) + commission, a sell brings
 * round2(qty × price) − commission. So the week starts from whatever the earlier weeks left, and
 * fills after the last measured close (the next week's) never leak into it.
 *
 * The week runs from the close of `dataThrough` (the last close the decision saw, where the risk stage
 * marked equity for sizing) to the close of `through` (the week's last session, or the latest one with
 * data while the week is still running). Equity is marked at each session's close, and at each
 * checkpoint (09:00, 12:00, 14:00, 15:50 New York, those before the session's close) with the last
 * price printed by then: with daily bars, the previous close at 09:00 and the day's open later. So a
 * fall inside a session shows only as far as those prices see it. Checkpoints and their actions after
 * the last measured close are left for a later measurement. Distributions are not credited (the
 * simulated broker does not pay them), so a long loses, and a short gains, the payout on an ex-date.
 *
 * Definitions (definitions.ts repeats them word for word for the report; fractions are rounded to
 * 4 decimals, dollars to cents):
 *  - start_equity: the account's book before the week's first fill instant (every earlier fill
 *    replayed from its starting cash), marked at the data_through close.
 *  - pnl: end_equity − start_equity in dollars, end_equity being the book at the close of the last
 *    measured session; pnl_pct = pnl / start_equity.
 *  - max_drawdown: the largest fall from a running peak, as a positive fraction of that peak, on
 *    the close-to-close equity path: the data_through close, then the close of each session.
 *  - max_drawdown_intraday: the same on the path that merges those closes with the equity at each
 *    checkpoint, in time order (a checkpoint comes before its session's close); the equity at a
 *    checkpoint is the book from the fills at or before the checkpoint's instant, marked at the
 *    last price knowable then.
 *  - turnover: Σ round2(qty × price) over the week's fills (checkpoint fills included) /
 *    start_equity.
 *  - hit_rate: the share of sessions whose close-to-close change in equity is a gain, among the
 *    sessions whose change is not zero; null when none is.
 *  - conviction_path: the conviction of the Wednesday decision (left out when the account did not
 *    trade), then the conviction after each of the account's checkpoint actions, in time order.
 *  - conviction_volatility: the population standard deviation of conviction_path; 0 with fewer than
 *    two points.
 *  - conviction_changes: the number of consecutive pairs in conviction_path that differ.
 *  - panic_exits: the account's checkpoint actions that applied EXIT, FLIP or REDUCE while its own
 *    machine-checked invalidation trigger had not fired: a position cut or reversed without the
 *    account's stated reason.
 *  - actions: the applied checkpoint actions counted by kind (STAY, EXIT, FLIP, REDUCE); a flat
 *    account or an owner that failed counts as STAY.
 */
import { roundCash } from '../broker/money.js';
import { applyFill, emptyBook, equityOf, type Book, type LedgerFill } from '../ledger/book.js';

/** A fill as the ledger records it (src/ledger/book.ts applies it with the broker's money rules). */
export type FillOfAccount = LedgerFill;

export type CheckpointActionKind = 'STAY' | 'EXIT' | 'FLIP' | 'REDUCE';

/** One checkpoint of the week: when it decided and the prices it could see. */
export interface CheckpointMark {
  /** The checkpoint's decision instant (UTC Date). */
  at: Date;
  /** The session, YYYY-MM-DD. */
  date: string;
  /** HH:MM New York. */
  time: string;
  /** Last printed price knowable at the checkpoint (daily bars: previous close at 09:00, the day's open later). */
  price: (ticker: string) => number;
}

/** What the checkpoint engine did to one account at one checkpoint. */
export interface CheckpointActionRecord {
  account_id: number;
  /** Decision instant; equals a CheckpointMark.at. */
  at: Date;
  /** The action the engine APPLIED (a flat account or a failed owner is STAY). */
  action: CheckpointActionKind;
  conviction_before: number;
  conviction_after: number;
  /** The engine's verdict on the owner's machine-checkable invalidation trigger at this checkpoint. */
  trigger_fired: boolean;
}

export interface WeekPerformanceInput {
  /** The close the week starts from (the decision's data_through). */
  dataThrough: string;
  /** Sessions of the week whose close is marked, ascending (fill day … through); holidays are absent. */
  sessions: readonly string[];
  /** The instant the week's first orders fill (the fill day's open); earlier fills made the starting position. */
  weekStartsAt: Date;
  /** The close instant of each session (13:00 New York on an early-close day), for assigning fills to sessions. */
  closeInstant: (session: string) => Date;
  accounts: readonly { id: number; owner: string; startingCash: number }[];
  /** Every fill of these accounts up to `through`'s close, any order (from `weekStartsAt` with `openingBooks`). */
  fills: readonly FillOfAccount[];
  /**
   * Each account's book before `weekStartsAt`, when the caller has it (the App's ledger carries it
   * from week to week): the replay starts there instead of at the starting cash.
   */
  openingBooks?: ReadonlyMap<number, Book>;
  /** Raw close of a ticker on a session (throws when missing). */
  close: (ticker: string, session: string) => number;
  /** Each account's conviction from the Wednesday decision (null = the account did not trade / its seat failed). */
  weeklyConvictions: ReadonlyMap<number, number | null>;
  /** Every checkpoint evaluated this week, ascending by `at`. */
  checkpoints: readonly CheckpointMark[];
  /** Every action the checkpoint engine applied this week, each at one of `checkpoints`. */
  actions: readonly CheckpointActionRecord[];
}

export type ActionCounts = Record<CheckpointActionKind, number>;

export interface AccountWeek {
  account_id: number;
  owner: string;
  start_equity: number;
  end_equity: number;
  pnl: number;
  pnl_pct: number;
  /** Largest fall from a running peak of the close-to-close equity path, as a positive fraction. */
  max_drawdown: number;
  /** The same on the closes merged with the checkpoint marks. */
  max_drawdown_intraday: number;
  /** Traded notional this week / start equity. */
  turnover: number;
  fills: number;
  /** The Wednesday conviction (when the account traded), then the conviction after each checkpoint action. */
  conviction_path: number[];
  /** Population standard deviation of conviction_path (0 with fewer than two points). */
  conviction_volatility: number;
  /** Consecutive pairs of conviction_path that differ. */
  conviction_changes: number;
  /** EXIT, FLIP or REDUCE applied while the account's own invalidation trigger had not fired. */
  panic_exits: number;
  actions: ActionCounts;
  /** Share of sessions with a gain among those with a non-zero P/L; null when nothing moved. */
  hit_rate: number | null;
  /** Equity at the start and at each session's close. */
  equity_path: { date: string; equity: number }[];
  /** Equity at each checkpoint of the week. */
  checkpoint_equity: { at: string; date: string; time: string; equity: number }[];
  positions_at_end: { ticker: string; qty: number }[];
}

export function maxDrawdown(path: readonly number[]): number {
  let peak = -Infinity;
  let worst = 0;
  for (const value of path) {
    peak = Math.max(peak, value);
    if (peak > 0) worst = Math.max(worst, (peak - value) / peak);
  }
  return round4(worst);
}

export function populationStdev(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return round4(Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length));
}

/** Consecutive pairs that differ. */
export function countChanges(xs: readonly number[]): number {
  return xs.slice(1).filter((x, i) => x !== xs[i]).length;
}

/** A point where equity is marked: a session's close or a checkpoint. */
type Mark = { kind: 'close'; at: number; session: string } | { kind: 'checkpoint'; at: number; checkpoint: CheckpointMark };

/**
 * Closes and checkpoints in time order. A checkpoint sorts before a close at the same instant: a
 * checkpoint belongs to its session, whose close comes after it.
 */
function markTimeline(input: WeekPerformanceInput, checkpoints: readonly CheckpointMark[]): Mark[] {
  const marks: Mark[] = [
    ...checkpoints.map((checkpoint): Mark => ({ kind: 'checkpoint', at: checkpoint.at.getTime(), checkpoint })),
    ...input.sessions.map((session): Mark => ({ kind: 'close', at: input.closeInstant(session).getTime(), session })),
  ];
  return marks.sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === 'checkpoint' ? -1 : 1));
}

interface Replayed {
  start: number;
  book: Book;
  weekFills: FillOfAccount[];
  closes: { date: string; equity: number }[];
  checkpoints: AccountWeek['checkpoint_equity'];
  /** Start, then every close and checkpoint in time order. */
  intraday: number[];
}

/** Replays one account's fills (ascending) along the timeline, marking equity at each point. */
function replayAccount(
  input: WeekPerformanceInput,
  account: { id: number; startingCash: number },
  fills: readonly FillOfAccount[],
  timeline: readonly Mark[],
): Replayed {
  const opening = input.openingBooks?.get(account.id);
  const book = opening ? { cash: opening.cash, positions: new Map(opening.positions) } : emptyBook(account.startingCash);
  let next = 0;
  const applyThrough = (instant: number) => {
    while (next < fills.length && (fills[next] as FillOfAccount).filledAt.getTime() <= instant)
      applyFill(book, fills[next++] as FillOfAccount);
  };
  applyThrough(input.weekStartsAt.getTime() - 1);
  const weekFills = fills.slice(next);

  const start = equityOf(book, (ticker) => input.close(ticker, input.dataThrough));
  const closes = [{ date: input.dataThrough, equity: start }];
  const checkpoints: Replayed['checkpoints'] = [];
  const intraday = [start];
  for (const mark of timeline) {
    applyThrough(mark.at);
    if (mark.kind === 'close') {
      const equity = equityOf(book, (ticker) => input.close(ticker, mark.session));
      closes.push({ date: mark.session, equity });
      intraday.push(equity);
    } else {
      const { checkpoint } = mark;
      const equity = equityOf(book, checkpoint.price);
      checkpoints.push({ at: checkpoint.at.toISOString(), date: checkpoint.date, time: checkpoint.time, equity });
      intraday.push(equity);
    }
  }
  return { start, book, weekFills, closes, checkpoints, intraday };
}

interface ConvictionMetrics {
  conviction_path: number[];
  conviction_volatility: number;
  conviction_changes: number;
  panic_exits: number;
  actions: ActionCounts;
}

/** Conviction path and checkpoint behaviour of one account from its action records (ascending by `at`). */
function convictionMetrics(weekly: number | null, records: readonly CheckpointActionRecord[]): ConvictionMetrics {
  const path = [...(weekly === null ? [] : [weekly]), ...records.map((r) => r.conviction_after)];
  const actions: ActionCounts = { STAY: 0, EXIT: 0, FLIP: 0, REDUCE: 0 };
  for (const r of records) actions[r.action] += 1;
  return {
    conviction_path: path,
    conviction_volatility: populationStdev(path),
    conviction_changes: countChanges(path),
    panic_exits: records.filter((r) => r.action !== 'STAY' && !r.trigger_fired).length,
    actions,
  };
}

export function measureWeek(input: WeekPerformanceInput): AccountWeek[] {
  const lastSession = input.sessions.at(-1);
  if (!lastSession) throw new Error('a week needs at least one session to measure');
  const endsAt = input.closeInstant(lastSession).getTime();
  const byTime = <T extends { at: Date }>(a: T, b: T) => a.at.getTime() - b.at.getTime();

  // An action must come from a known checkpoint: one that does not is a wiring mistake (its instant
  // taken from another clock), and measuring it anyway would attribute it to the wrong prices.
  const checkpointInstants = new Set(input.checkpoints.map((c) => c.at.getTime()));
  for (const a of input.actions) {
    if (!checkpointInstants.has(a.at.getTime()))
      throw new Error(`account ${a.account_id}'s ${a.action} at ${a.at.toISOString()} is at no checkpoint of the week`);
  }
  const checkpoints = input.checkpoints.filter((c) => c.at.getTime() <= endsAt).sort(byTime);
  const actions = input.actions.filter((a) => a.at.getTime() <= endsAt).sort(byTime);
  const timeline = markTimeline(input, checkpoints);
  const fills = input.fills.filter((f) => f.filledAt.getTime() <= endsAt).sort((a, b) => a.filledAt.getTime() - b.filledAt.getTime());

  return input.accounts.map((account) => {
    const replayed = replayAccount(
      input,
      account,
      fills.filter((f) => f.accountId === account.id),
      timeline,
    );
    const { start, closes } = replayed;
    const end = (closes.at(-1) as { equity: number }).equity;
    const changes = closes.slice(1).map((p, i) => roundCash(p.equity - (closes[i] as { equity: number }).equity));
    const moved = changes.filter((c) => c !== 0);
    const traded = replayed.weekFills.reduce((sum, f) => sum + roundCash(f.qty * f.price), 0);
    return {
      account_id: account.id,
      owner: account.owner,
      start_equity: start,
      end_equity: end,
      pnl: roundCash(end - start),
      pnl_pct: start > 0 ? round4((end - start) / start) : 0,
      max_drawdown: maxDrawdown(closes.map((p) => p.equity)),
      max_drawdown_intraday: maxDrawdown(replayed.intraday),
      turnover: start > 0 ? round4(traded / start) : 0,
      fills: replayed.weekFills.length,
      ...convictionMetrics(
        input.weeklyConvictions.get(account.id) ?? null,
        actions.filter((a) => a.account_id === account.id),
      ),
      hit_rate: moved.length === 0 ? null : round4(moved.filter((c) => c > 0).length / moved.length),
      equity_path: closes,
      checkpoint_equity: replayed.checkpoints,
      positions_at_end: [...replayed.book.positions]
        .map(([ticker, qty]) => ({ ticker, qty }))
        .sort((a, b) => a.ticker.localeCompare(b.ticker)),
    };
  });
}

export interface CouncilVsIndividuals {
  council: { account_id: number; pnl: number; pnl_pct: number } | null;
  individuals_mean_pnl_pct: number | null;
  individuals_median_pnl_pct: number | null;
  best_individual: { owner: string; pnl_pct: number } | null;
  worst_individual: { owner: string; pnl_pct: number } | null;
  /** How many individual PMs the council out-earned (strictly), of how many. */
  beat: number;
  of: number;
  /** The council's place among all six accounts by P/L (1 = best; ties share the better place). */
  rank: number | null;
}

export function councilVsIndividuals(accounts: readonly AccountWeek[]): CouncilVsIndividuals {
  const council = accounts.find((a) => a.owner === 'council') ?? null;
  const individuals = accounts.filter((a) => a.owner !== 'council');
  const pcts = individuals.map((a) => a.pnl_pct).sort((a, b) => a - b);
  const byPnl = [...individuals].sort((a, b) => b.pnl - a.pnl);
  const median =
    pcts.length === 0
      ? null
      : pcts.length % 2 === 1
        ? (pcts[(pcts.length - 1) / 2] as number)
        : ((pcts[pcts.length / 2 - 1] as number) + (pcts[pcts.length / 2] as number)) / 2;
  return {
    council: council ? { account_id: council.account_id, pnl: council.pnl, pnl_pct: council.pnl_pct } : null,
    individuals_mean_pnl_pct: pcts.length === 0 ? null : round4(pcts.reduce((s, x) => s + x, 0) / pcts.length),
    individuals_median_pnl_pct: median === null ? null : round4(median),
    best_individual: byPnl[0] ? { owner: byPnl[0].owner, pnl_pct: byPnl[0].pnl_pct } : null,
    worst_individual: byPnl.at(-1) ? { owner: (byPnl.at(-1) as AccountWeek).owner, pnl_pct: (byPnl.at(-1) as AccountWeek).pnl_pct } : null,
    beat: council ? individuals.filter((a) => council.pnl > a.pnl).length : 0,
    of: individuals.length,
    rank: council ? 1 + accounts.filter((a) => a.pnl > council.pnl).length : null,
  };
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
