import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../storage/db.js';
import { fills } from '../storage/schema.js';
import { advance, emptyState, fillsOfAccount } from './book.js';
import { PortfolioLedger } from './portfolio-ledger.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ memory: true });
});
afterAll(() => store.close());

let serial = 0;
async function fill(portfolio: string, accountId: number, at: string, side: 'buy' | 'sell', qty: number, price: number): Promise<void> {
  await store.db.insert(fills).values({
    clientOrderId: `t-${++serial}`,
    portfolio,
    accountId,
    ticker: 'SPY',
    side,
    qty,
    price,
    commission: 1,
    filledAt: new Date(at),
  });
}

/** The book before `instant` replayed from inception, the way every reader did before the ledger. */
async function fromInception(portfolio: string, accountId: number, instant: string) {
  const all = await fillsOfAccount(store.db, portfolio, accountId, { before: new Date(instant) });
  return advance(emptyState(100_000), all);
}

describe('the portfolio ledger', () => {
  it('carries each book forward and equals a replay from inception, also after a fill merged out of order', async () => {
    const ledger = new PortfolioLedger('p');
    await fill('p', 1, '2024-01-03T14:30:00Z', 'buy', 10.5, 470.11);
    await fill('other', 1, '2024-01-03T14:30:00Z', 'buy', 99, 1);
    await fill('p', 1, '2024-01-05T21:00:00Z', 'sell', 4.25, 471.37);
    await ledger.refresh(store.db, 'p');
    expect(ledger.stateBefore(1, 100_000, new Date('2024-01-04T00:00:00Z'))).toEqual(await fromInception('p', 1, '2024-01-04T00:00:00Z'));

    await fill('p', 1, '2024-01-10T14:30:00Z', 'buy', 3, 475.02);
    await fill('p', 2, '2024-01-10T14:30:00Z', 'sell', 7, 80.5);
    await ledger.refresh(store.db, 'p');
    for (const at of ['2024-01-06T00:00:00Z', '2024-01-11T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-11T00:00:00Z'])
      for (const account of [1, 2])
        expect(ledger.stateBefore(account, 100_000, new Date(at))).toEqual(await fromInception('p', account, at));
    expect(ledger.fillsFrom(1, new Date('2024-01-05T00:00:00Z')).map((f) => f.qty)).toEqual([4.25, 3]);

    // A fill earlier than the book carried so far is merged into place and the book replayed again.
    await fill('p', 1, '2024-01-04T14:30:00Z', 'buy', 1, 469.9);
    await ledger.refresh(store.db, 'p');
    expect(ledger.stateBefore(1, 100_000, new Date('2024-01-11T00:00:00Z'))).toEqual(await fromInception('p', 1, '2024-01-11T00:00:00Z'));
    // A copy: advancing what the ledger returned changes nothing it keeps.
    const copy = ledger.stateBefore(1, 100_000, new Date('2024-01-11T00:00:00Z'));
    copy.book.positions.set('TLT', 1);
    copy.entries.clear();
    expect(ledger.stateBefore(1, 100_000, new Date('2024-01-11T00:00:00Z'))).toEqual(await fromInception('p', 1, '2024-01-11T00:00:00Z'));
    await expect(ledger.refresh(store.db, 'other')).rejects.toThrow(/portfolio p/);
  });

  it("holds each fill once when two reads overlap (a week's books and a late job in one worker)", async () => {
    const ledger = new PortfolioLedger('q');
    await fill('q', 1, '2024-01-03T14:30:00Z', 'buy', 10, 470);
    await fill('q', 1, '2024-01-05T21:00:00Z', 'sell', 10, 471);
    await Promise.all([ledger.refresh(store.db, 'q'), ledger.refresh(store.db, 'q'), ledger.refresh(store.db, 'q')]);
    expect(ledger.fillsFrom(1, new Date('2024-01-01T00:00:00Z'))).toHaveLength(2);
    const after = ledger.stateBefore(1, 100_000, new Date('2024-01-06T00:00:00Z'));
    expect(after).toEqual(await fromInception('q', 1, '2024-01-06T00:00:00Z'));
    expect([...after.book.positions]).toEqual([]);
  });
});
