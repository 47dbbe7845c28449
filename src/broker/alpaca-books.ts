/**
 * `llm-trading accounts` with BROKER=alpaca: Alpaca's view of each paper account beside the books the
 * ledger keeps for it (accounts.cash, positions), and whether their positions agree. Cash differs by
 * design when Alpaca credits or charges what the ledger does not know (interest, fees, a deposit).
 */
import { and, eq } from 'drizzle-orm';
import type { AccountState } from '../ports/broker.js';
import type { Db } from '../storage/db.js';
import { accounts, positions } from '../storage/schema.js';

export interface LedgerBooks {
  cash: number | null;
  /** Signed quantities by ticker. */
  positions: Record<string, number>;
}

export interface BesideBooks {
  books: LedgerBooks;
  /** Every ticker holds the same signed quantity at Alpaca and in the books. */
  positionsMatch: boolean;
}

export async function ledgerBooks(db: Db, portfolio: string, accountId: number): Promise<LedgerBooks> {
  const [row] = await db
    .select({ cash: accounts.cash })
    .from(accounts)
    .where(and(eq(accounts.portfolio, portfolio), eq(accounts.id, accountId)));
  const held = await db
    .select({ ticker: positions.ticker, qty: positions.qty })
    .from(positions)
    .where(and(eq(positions.portfolio, portfolio), eq(positions.accountId, accountId)));
  return { cash: row?.cash ?? null, positions: Object.fromEntries(held.map((p) => [p.ticker, p.qty])) };
}

export async function besideBooks(db: Db, portfolio: string, state: AccountState): Promise<BesideBooks> {
  const books = await ledgerBooks(db, portfolio, state.accountId);
  const alpaca = Object.fromEntries(state.positions.filter((p) => p.qty !== 0).map((p) => [p.ticker, p.qty]));
  const tickers = new Set([...Object.keys(alpaca), ...Object.keys(books.positions)]);
  const positionsMatch = [...tickers].every((t) => Math.abs((alpaca[t] ?? 0) - (books.positions[t] ?? 0)) < 1e-9);
  return { books, positionsMatch };
}
