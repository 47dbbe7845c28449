import { eq } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { accounts } from '../storage/schema.js';
import type { Book } from './book.js';
import type { PortfolioLedger } from './portfolio-ledger.js';

/**
 * Every account's book as a decision taken at `decidedAt` saw it: its fills strictly before that
 * instant (mark it with the prices the decision saw: `equityOf(book, snapshot closes)`). Fills the
 * week's own orders made afterwards do not count, so a forced re-run of the week sizes exactly as the
 * first run did and trades only what a changed decision changes. Two queries for all accounts: the
 * accounts, and the fills added to the ledger since it was last read.
 */
export async function booksAtDecision(db: Db, portfolio: string, ledger: PortfolioLedger, decidedAt: Date): Promise<Map<number, Book>> {
  const rows = await startingCashOfAccounts(db, { portfolio });
  await ledger.refresh(db, portfolio);
  return new Map(rows.map((a) => [a.id, ledger.stateBefore(a.id, a.startingCash, decidedAt).book]));
}

/** Every account of a portfolio with its starting cash. */
export const startingCashOfAccounts = reusableRows(
  { id: accounts.id, startingCash: accounts.startingCash },
  (db, $: Slots<{ portfolio: string }>, fields) => db.select(fields).from(accounts).where(eq(accounts.portfolio, $.portfolio)),
);
