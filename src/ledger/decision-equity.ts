import { and, asc, eq, lt } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { accounts, fills } from '../storage/schema.js';
import { applyFill, emptyBook, type Book, type LedgerFill } from './book.js';

/**
 * Every account's book as a decision taken at `decidedAt` saw it: its fills strictly before that
 * instant (mark it with the prices the decision saw: `equityOf(book, snapshot closes)`). Fills the
 * week's own orders made afterwards do not count, so a forced re-run of the week sizes exactly as the
 * first run did and trades only what a changed decision changes. Two queries for all accounts.
 */
export async function booksAtDecision(db: Db, portfolio: string, decidedAt: Date): Promise<Map<number, Book>> {
  const rows = await db
    .select({ id: accounts.id, startingCash: accounts.startingCash })
    .from(accounts)
    .where(eq(accounts.portfolio, portfolio));
  const books = new Map(rows.map((a) => [a.id, emptyBook(a.startingCash)]));
  const before = await db
    .select()
    .from(fills)
    .where(and(eq(fills.portfolio, portfolio), lt(fills.filledAt, decidedAt)))
    .orderBy(asc(fills.filledAt), asc(fills.id));
  for (const f of before) {
    const book = books.get(f.accountId);
    if (book) applyFill(book, { ...f, side: f.side as LedgerFill['side'] });
  }
  return books;
}
