import { and, eq } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { accounts } from '../storage/schema.js';
import { equityOf, fillsOfAccount, replay, type Book } from './book.js';

export interface DecisionBook {
  book: Book;
  equity: number;
}

/**
 * An account's book and equity as a decision taken at `decidedAt` saw them: its fills strictly before
 * that instant, marked at the prices the decision saw (`priceOf`, the snapshot's closes). Fills the
 * week's own orders made afterwards do not count, so a forced re-run of the week sizes exactly as the
 * first run did and trades only what a changed decision changes.
 */
export async function bookAtDecision(
  db: Db,
  portfolio: string,
  accountId: number,
  decidedAt: Date,
  priceOf: (ticker: string) => number,
): Promise<DecisionBook> {
  const [account] = await db
    .select({ startingCash: accounts.startingCash })
    .from(accounts)
    .where(and(eq(accounts.portfolio, portfolio), eq(accounts.id, accountId)));
  if (!account) throw new Error(`account ${accountId} does not exist in portfolio ${portfolio}`);
  const book = replay(account.startingCash, await fillsOfAccount(db, portfolio, accountId, { before: decidedAt }));
  return { book, equity: equityOf(book, priceOf) };
}
