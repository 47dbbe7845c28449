import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/storage/db.js';
import { appendEvent, eventsOfWeek } from '../src/storage/event-store.js';
import { insertRows } from '../src/storage/bulk-insert.js';
import { aggregates, checkpointUpdates, events, portfolios, runs } from '../src/storage/schema.js';
import { ensurePortfolio } from '../src/portfolio/portfolio.js';
import { resetStore } from './helpers/app.js';
import { storeFactories } from './helpers/stores.js';

/** A completed run of a portfolio (it has traded, so its broker is fixed); tests override its status. */
const ranWeek = (portfolio: string) => ({
  portfolio,
  weekId: 'w',
  asofEt: 'a',
  dataThrough: 'd',
  fillDate: 'f',
  mode: 'offline',
  seed: 's',
  status: 'completed',
});

describe.each(storeFactories)('storage on $name', (factory) => {
  let store: Store;
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await resetStore(store);
  });

  it('applies migrations idempotently', async () => {
    await store.migrate();
    await store.migrate();
    const [row] = await store.db.select({ n: count() }).from(runs);
    expect(row?.n).toBe(0);
  });

  it('creates a portfolio once, keeps it, lets one that never ran take a new broker, refuses a broker change after it ran', async () => {
    const settings = { name: 'p1', kind: 'live' as const, broker: 'sim', startingCash: 100000 };
    await ensurePortfolio(store.db, settings);
    await ensurePortfolio(store.db, { ...settings, startingCash: 5 }); // stored once: the first settings stay
    expect(await store.db.select().from(portfolios).where(eq(portfolios.name, 'p1'))).toMatchObject([
      { name: 'p1', kind: 'live', broker: 'sim', startingCash: 100000 },
    ]);
    // Never ran: the broker of its first run.
    await ensurePortfolio(store.db, { ...settings, broker: 'alpaca', startingCash: 2000 });
    expect(await store.db.select().from(portfolios).where(eq(portfolios.name, 'p1'))).toMatchObject([
      { broker: 'alpaca', startingCash: 2000 },
    ]);
    await store.db.insert(runs).values(ranWeek('p1'));
    await expect(ensurePortfolio(store.db, settings)).rejects.toThrow(
      'portfolio p1 trades on the alpaca broker, not sim: use another portfolio (--portfolio NAME)',
    );
    await ensurePortfolio(store.db, { ...settings, broker: 'alpaca' });
  });

  it('checks the broker of a portfolio another connection creates at the same moment', async () => {
    // On PostgreSQL the second insert waits for the first transaction, then does nothing, and its own
    // snapshot does not show the new row: the broker must still be checked. (PGlite runs them in turn.)
    let ensured: Promise<void> | undefined;
    await store.db.transaction(async (tx) => {
      await tx.insert(portfolios).values({ name: 'raced', kind: 'live', broker: 'alpaca', startingCash: 2000 });
      await tx.insert(runs).values(ranWeek('raced'));
      ensured = ensurePortfolio(store.db, { name: 'raced', kind: 'live', broker: 'sim', startingCash: 100000 });
      ensured.catch(() => undefined); // awaited below
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    await expect(ensured).rejects.toThrow('portfolio raced trades on the alpaca broker, not sim');
  });

  it('appends events once per idempotency key and reads them back in order', async () => {
    const p = 'default';
    expect(await appendEvent(store.db, { key: 'k1', portfolio: p, weekId: 'w', kind: 'order', payload: { n: 1 } })).toBe(true);
    expect(await appendEvent(store.db, { key: 'k1', portfolio: p, weekId: 'w', kind: 'order', payload: { n: 2 } })).toBe(false);
    expect(await appendEvent(store.db, { key: 'k2', portfolio: p, weekId: 'w', kind: 'fill', payload: { n: 3 } })).toBe(true);
    expect(await appendEvent(store.db, { key: 'k3', portfolio: 'other', weekId: 'w', kind: 'fill', payload: { n: 4 } })).toBe(true);
    const rows = await eventsOfWeek(store.db, { portfolio: p, weekId: 'w' });
    expect(rows.map((r) => [r.idempotencyKey, r.payload])).toEqual([
      ['k1', { n: 1 }],
      ['k2', { n: 3 }],
    ]);
    expect((await eventsOfWeek(store.db, { portfolio: p, weekId: 'w' }, 'fill')).map((r) => r.idempotencyKey)).toEqual(['k2']);
  });

  it('stores rows inserted as one JSON parameter exactly as a plain insert stores them', async () => {
    const row = (portfolio: string, accountId: number, extra: Partial<typeof checkpointUpdates.$inferInsert> = {}) => ({
      portfolio,
      weekId: '2024-03-06',
      checkpointAt: new Date('2024-03-07T17:00:00.123Z'),
      accountId,
      owner: 'gpt',
      agent: 'offline/trend',
      status: 'ok',
      proposedAction: null,
      action: 'STAY',
      convictionBefore: -2,
      convictionAfter: 1,
      reason: 'a "quoted" reason, with unicode — and a \\ backslash',
      invalidationFired: null,
      claimedInvalidation: null,
      trigger: null,
      position: { ticker: 'SPY', qty: 12.345678, price: 0.1, nested: [1, 'two', null, { z: 1.5e-7 }] },
      indicators: [],
      orderIds: ['a', 'b'],
      error: null,
      ...extra,
    });
    const rows = [row('plain', 1), row('plain', 2, { trigger: 'text', proposedAction: 'EXIT' })];
    await store.db.insert(checkpointUpdates).values(rows);
    expect(
      await insertRows(
        store.db,
        checkpointUpdates,
        rows.map((r) => ({ ...r, portfolio: 'bulk' })),
      ),
    ).toBe(2);
    // Conflicts are skipped and not counted.
    expect(await insertRows(store.db, checkpointUpdates, [row('bulk', 1), row('bulk', 3)], { onConflictDoNothing: {} })).toBe(1);
    const read = async (portfolio: string) =>
      (
        await store.db
          .select()
          .from(checkpointUpdates)
          .where(eq(checkpointUpdates.portfolio, portfolio))
          .orderBy(checkpointUpdates.accountId)
      ).map(({ portfolio: _p, createdAt, ...r }) => ({ ...r, fresh: Date.now() - createdAt.getTime() < 60_000 }));
    expect((await read('bulk')).slice(0, 2)).toEqual(await read('plain'));
    // Serial ids follow the order of the rows.
    await insertRows(
      store.db,
      events,
      ['e1', 'e2', 'e3'].map((key) => ({ idempotencyKey: key, portfolio: 'p', weekId: 'w', kind: 'k', payload: { key } })),
    );
    expect((await store.db.select().from(events).orderBy(events.id)).map((e) => e.idempotencyKey)).toEqual(['e1', 'e2', 'e3']);
    // A row without a column others give: NULL where the column has no default; where it has one, and
    // for a number JSON cannot carry, the rows go through a plain insert (the default, NaN).
    await insertRows(store.db, events, [
      { idempotencyKey: 'x', kind: 'k', portfolio: 'p', weekId: 'w', payload: {} },
      { idempotencyKey: 'y', kind: 'k', portfolio: 'p', weekId: 'w', payload: {}, stage: 's' },
      { idempotencyKey: 'z', kind: 'k', portfolio: 'p', weekId: 'w', payload: {}, createdAt: new Date('2024-01-01T00:00:00Z') },
    ]);
    const logged = await store.db.select().from(events).where(eq(events.kind, 'k')).orderBy(events.id);
    expect(logged.map((e) => [e.idempotencyKey, e.stage])).toEqual([
      ['e1', null],
      ['e2', null],
      ['e3', null],
      ['x', null],
      ['y', 's'],
      ['z', null],
    ]);
    expect(Date.now() - logged[3]!.createdAt.getTime()).toBeLessThan(60_000);
    expect(logged[5]!.createdAt.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(
      await insertRows(store.db, aggregates, [
        { portfolio: 'p', weekId: 'w', seat: 's', meanRank: Number.NaN, votes: 0, reviewCount: 0, rubricMeans: {} },
      ]),
    ).toBe(1);
    expect((await store.db.select().from(aggregates))[0]?.meanRank).toBeNaN();
  });

  it('rolls a failed transaction back completely', async () => {
    await expect(
      store.db.transaction(async (tx) => {
        await appendEvent(tx, { key: 'inside', portfolio: 'default', weekId: 'w', kind: 'x', payload: {} });
        await tx.insert(runs).values({ ...ranWeek('default'), status: 'running' });
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await store.db.select().from(events).where(eq(events.idempotencyKey, 'inside'))).toEqual([]);
    expect(await store.db.select().from(runs)).toEqual([]);
  });
});
