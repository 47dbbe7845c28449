/**
 * An account's book rebuilt from its fills: the ledger is the record, and cash and positions at any
 * instant follow from the starting cash and the fills up to it. The simulated broker keeps the same
 * numbers incrementally (accounts.cash, positions) for its money checks; a test holds the two equal.
 *
 * Money rules, the broker's own (money.ts): a buy costs round2(qty × price) + commission, a sell
 * brings round2(qty × price) − commission; quantities are signed (negative = short) and rounded to
 * 6 decimals, and a position at zero disappears.
 */
import { and, asc, eq, gte, lt, lte } from 'drizzle-orm';
import { roundCash, roundQty } from '../broker/money.js';
import type { Db, Tx } from '../storage/db.js';
import { fills as fillRows } from '../storage/schema.js';

export interface LedgerFill {
  accountId: number;
  filledAt: Date;
  ticker: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  commission: number;
}

export interface Book {
  cash: number;
  /** Signed quantities by ticker; no zero entries. */
  positions: Map<string, number>;
}

export function emptyBook(startingCash: number): Book {
  return { cash: roundCash(startingCash), positions: new Map() };
}

export function applyFill(book: Book, fill: LedgerFill): void {
  const notional = roundCash(fill.qty * fill.price);
  const sign = fill.side === 'buy' ? 1 : -1;
  book.cash = roundCash(book.cash + (sign > 0 ? -(notional + fill.commission) : notional - fill.commission));
  const qty = roundQty((book.positions.get(fill.ticker) ?? 0) + sign * fill.qty);
  if (qty === 0) book.positions.delete(fill.ticker);
  else book.positions.set(fill.ticker, qty);
}

/** Cash + Σ qty × price, to the cent; throws when a held ticker has no price. */
export function equityOf(book: Book, priceOf: (ticker: string) => number): number {
  let equity = book.cash;
  for (const [ticker, qty] of book.positions) equity += qty * priceOf(ticker);
  return roundCash(equity);
}

/**
 * The fills of one account of a portfolio, in the order they happened, up to an instant:
 * `before` excludes fills at that instant (the book a decision taken then sees), `through` includes them.
 */
export async function fillsOfAccount(
  db: Db | Tx,
  portfolio: string,
  accountId: number,
  bound?: { before: Date } | { through: Date },
): Promise<LedgerFill[]> {
  const where = [eq(fillRows.portfolio, portfolio), eq(fillRows.accountId, accountId)];
  if (bound && 'before' in bound) where.push(lt(fillRows.filledAt, bound.before));
  if (bound && 'through' in bound) where.push(lte(fillRows.filledAt, bound.through));
  const rows = await db
    .select()
    .from(fillRows)
    .where(and(...where))
    .orderBy(asc(fillRows.filledAt), asc(fillRows.id));
  return rows.map(ledgerFillOf);
}

/** Every account's fills of a portfolio before an instant, or from it on, in ledger order, by account. */
export async function fillsByAccount(
  db: Db | Tx,
  portfolio: string,
  bound: { before: Date } | { from: Date },
): Promise<Map<number, LedgerFill[]>> {
  const when = 'before' in bound ? lt(fillRows.filledAt, bound.before) : gte(fillRows.filledAt, bound.from);
  const rows = await db
    .select()
    .from(fillRows)
    .where(and(eq(fillRows.portfolio, portfolio), when))
    .orderBy(asc(fillRows.filledAt), asc(fillRows.id));
  const byAccount = new Map<number, LedgerFill[]>();
  for (const row of rows) {
    const list = byAccount.get(row.accountId) ?? [];
    list.push(ledgerFillOf(row));
    byAccount.set(row.accountId, list);
  }
  return byAccount;
}

function ledgerFillOf(f: typeof fillRows.$inferSelect): LedgerFill {
  return {
    accountId: f.accountId,
    filledAt: f.filledAt,
    ticker: f.ticker,
    side: f.side as LedgerFill['side'],
    qty: f.qty,
    price: f.price,
    commission: f.commission,
  };
}

/** The book of an account from its starting cash and fills (already filtered to the instant wanted). */
export function replay(startingCash: number, fills: readonly LedgerFill[]): Book {
  const book = emptyBook(startingCash);
  for (const fill of fills) applyFill(book, fill);
  return book;
}

/** The running average entry of one instrument's position (see applyEntry). */
export interface Entry {
  qty: number;
  avg: number;
}

/** A book with the average entry of each open position: everything a replay of the fills knows. */
export interface BookState {
  book: Book;
  entries: Map<string, Entry>;
}

export function emptyState(startingCash: number): BookState {
  return { book: emptyBook(startingCash), entries: new Map() };
}

/** An independent copy (a state is advanced in place). */
export function copyState(state: BookState): BookState {
  return {
    book: { cash: state.book.cash, positions: new Map(state.book.positions) },
    entries: new Map([...state.entries].map(([ticker, e]) => [ticker, { qty: e.qty, avg: e.avg }])),
  };
}

/**
 * The average entry of a position: the running average over the fills that built it, reset when the
 * position goes through zero, kept by a reduction.
 */
export function applyEntry(entries: Map<string, Entry>, f: LedgerFill): void {
  const signed = f.side === 'buy' ? f.qty : -f.qty;
  const e = entries.get(f.ticker) ?? { qty: 0, avg: 0 };
  const next = roundQty(e.qty + signed);
  if (next === 0) entries.delete(f.ticker);
  else if (e.qty === 0 || Math.sign(next) !== Math.sign(e.qty)) entries.set(f.ticker, { qty: next, avg: f.price });
  else if (Math.abs(next) > Math.abs(e.qty))
    entries.set(f.ticker, { qty: next, avg: (e.avg * Math.abs(e.qty) + f.price * Math.abs(signed)) / Math.abs(next) });
  else entries.set(f.ticker, { qty: next, avg: e.avg });
}

/** Applies fills (in ledger order) to a state, in place; returns it. */
export function advance(state: BookState, fills: readonly LedgerFill[]): BookState {
  for (const fill of fills) {
    applyFill(state.book, fill);
    applyEntry(state.entries, fill);
  }
  return state;
}
