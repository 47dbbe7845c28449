import { and, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { fillsOfAccount, replay } from '../../src/ledger/book.js';
import type { Broker } from '../../src/ports/broker.js';
import type { Db } from '../../src/storage/db.js';
import { accounts, positions } from '../../src/storage/schema.js';

/**
 * Money is conserved: every account's cash and positions as the simulated broker keeps them equal its
 * starting cash replayed through its fills (the ledger explains every change).
 */
export async function expectBooksMatchFills(db: Db, portfolio: string): Promise<void> {
  const rows = await db.select().from(accounts).where(eq(accounts.portfolio, portfolio));
  expect(rows.length).toBeGreaterThan(0);
  for (const account of rows) {
    const book = replay(account.startingCash, await fillsOfAccount(db, portfolio, account.id));
    const held = await db
      .select({ ticker: positions.ticker, qty: positions.qty })
      .from(positions)
      .where(and(eq(positions.portfolio, portfolio), eq(positions.accountId, account.id)));
    expect({ account: account.id, cash: account.cash, positions: Object.fromEntries(held.map((p) => [p.ticker, p.qty])) }).toEqual({
      account: account.id,
      cash: book.cash,
      positions: Object.fromEntries(book.positions),
    });
  }
}

/** A broker that dies (throws, as a killed process stops) on its n-th order, after n−1 went through. */
export function brokerDyingAt(inner: Broker, n: number): Broker {
  let submitted = 0;
  return {
    name: inner.name,
    ensureAccounts: (list, cash) => inner.ensureAccounts(list, cash),
    account: (id) => inner.account(id),
    getOrder: (id) => inner.getOrder(id),
    submitOrder: async (request) => {
      if (++submitted >= n) throw new Error(`process killed before order ${n} (${request.clientOrderId})`);
      return inner.submitOrder(request);
    },
  };
}
