/**
 * One week of the six accounts, measured from their fills and the daily closes: the numbers of the
 * postmortem. Pure: the caller gathers the fills, the closes and the convictions (postmortem.ts).
 *
 * Each account is replayed from its starting cash through every fill it ever had, with the broker's
 * own money rules (money.ts): a buy costs round2(qty × price) + commission, a sell brings
 * round2(qty × price) − commission. So the week starts from whatever the earlier weeks left, and
 * fills from later checkpoints (or the next week) never leak into it.
 *
 * The week runs from the close of `dataThrough` (the last close the decision saw, where the risk stage
 * marked equity for sizing) to the close of `through` (the week's last session, or the latest one with
 * data while the week is still running). Equity is marked at each session's close in between.
 * Daily closes only: a drawdown inside a session is not seen. Distributions are not credited (the
 * simulated broker does not pay them), so a long loses, and a short gains, the payout on an ex-date.
 */
import { roundCash } from '../broker/money.js';
import { applyFill, emptyBook, equityOf as markBook, type Book, type LedgerFill } from '../ledger/book.js';

/** A fill as the ledger records it (src/ledger/book.ts applies it with the broker's money rules). */
export type FillOfAccount = LedgerFill;

export interface WeekPerformanceInput {
  /** The close the week starts from (the decision's data_through). */
  dataThrough: string;
  /** Sessions of the week whose close is marked, ascending (fill day … through). */
  sessions: readonly string[];
  /** The instant the week's first orders fill (the fill day's open); earlier fills made the starting position. */
  weekStartsAt: Date;
  /** The close instant of each session, for assigning fills to sessions. */
  closeInstant: (session: string) => Date;
  accounts: readonly { id: number; owner: string; startingCash: number }[];
  /** Every fill of these accounts up to `through`'s close, any order. */
  fills: readonly FillOfAccount[];
  /** Raw close of a ticker on a session (throws when missing). */
  close: (ticker: string, session: string) => number;
  /** Each account's conviction path this week: the weekly trade's, then every checkpoint's (empty = no trade). */
  convictions: ReadonlyMap<number, readonly number[]>;
  /** EXITs decided at checkpoints this week, per account. */
  checkpointExits: ReadonlyMap<number, number>;
}

export interface AccountWeek {
  account_id: number;
  owner: string;
  start_equity: number;
  end_equity: number;
  pnl: number;
  pnl_pct: number;
  /** Largest fall from a running peak of the close-to-close equity path, as a positive fraction. */
  max_drawdown: number;
  /** Traded notional this week / start equity. */
  turnover: number;
  fills: number;
  /** Population standard deviation of the week's conviction path (0 with fewer than two points). */
  conviction_volatility: number;
  /** Positions closed at a checkpoint (EXIT) this week. */
  panic_exits: number;
  /** Share of sessions with a gain among those with a non-zero P/L; null when nothing moved. */
  hit_rate: number | null;
  /** Equity at the start and at each session's close. */
  equity_path: { date: string; equity: number }[];
  positions_at_end: { ticker: string; qty: number }[];
}

function equityOf(book: Book, session: string, close: WeekPerformanceInput['close']): number {
  return markBook(book, (ticker) => close(ticker, session));
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

export function measureWeek(input: WeekPerformanceInput): AccountWeek[] {
  const lastSession = input.sessions.at(-1);
  if (!lastSession) throw new Error('a week needs at least one session to measure');
  const endsAt = input.closeInstant(lastSession).getTime();
  const ordered = [...input.fills]
    .filter((f) => f.filledAt.getTime() <= endsAt)
    .sort((a, b) => a.filledAt.getTime() - b.filledAt.getTime());

  return input.accounts.map((account) => {
    const fills = ordered.filter((f) => f.accountId === account.id);
    const book = emptyBook(account.startingCash);
    let next = 0;
    while (next < fills.length && (fills[next] as FillOfAccount).filledAt < input.weekStartsAt)
      applyFill(book, fills[next++] as FillOfAccount);
    const weekFills = fills.slice(next);

    const start = equityOf(book, input.dataThrough, input.close);
    const path = [{ date: input.dataThrough, equity: start }];
    for (const session of input.sessions) {
      const closesAt = input.closeInstant(session).getTime();
      while (next < fills.length && (fills[next] as FillOfAccount).filledAt.getTime() <= closesAt)
        applyFill(book, fills[next++] as FillOfAccount);
      path.push({ date: session, equity: equityOf(book, session, input.close) });
    }

    const end = (path.at(-1) as { equity: number }).equity;
    const changes = path.slice(1).map((p, i) => roundCash(p.equity - (path[i] as { equity: number }).equity));
    const moved = changes.filter((c) => c !== 0);
    const traded = weekFills.reduce((sum, f) => sum + roundCash(f.qty * f.price), 0);
    return {
      account_id: account.id,
      owner: account.owner,
      start_equity: start,
      end_equity: end,
      pnl: roundCash(end - start),
      pnl_pct: start > 0 ? round4((end - start) / start) : 0,
      max_drawdown: maxDrawdown(path.map((p) => p.equity)),
      turnover: start > 0 ? round4(traded / start) : 0,
      fills: weekFills.length,
      conviction_volatility: populationStdev(input.convictions.get(account.id) ?? []),
      panic_exits: input.checkpointExits.get(account.id) ?? 0,
      hit_rate: moved.length === 0 ? null : round4(moved.filter((c) => c > 0).length / moved.length),
      equity_path: path,
      positions_at_end: [...book.positions].map(([ticker, qty]) => ({ ticker, qty })).sort((a, b) => a.ticker.localeCompare(b.ticker)),
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
