import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/storage/db.js';
import { appendEvent, eventsOfWeek } from '../src/storage/event-store.js';
import { events, runs } from '../src/storage/schema.js';
import { resetStore } from './helpers/app.js';
import { storeFactories } from './helpers/stores.js';

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

  it('rolls a failed transaction back completely', async () => {
    await expect(
      store.db.transaction(async (tx) => {
        await appendEvent(tx, { key: 'inside', portfolio: 'default', weekId: 'w', kind: 'x', payload: {} });
        await tx.insert(runs).values({
          portfolio: 'default',
          weekId: 'w',
          asofEt: 'a',
          dataThrough: 'd',
          fillDate: 'f',
          mode: 'offline',
          seed: 's',
          status: 'running',
        });
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await store.db.select().from(events).where(eq(events.idempotencyKey, 'inside'))).toEqual([]);
    expect(await store.db.select().from(runs)).toEqual([]);
  });
});
