import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertRows } from '../src/storage/bulk-insert.js';
import type { Store } from '../src/storage/db.js';
import { encodedAs, reusableRows, reusableStatement, type Slots } from '../src/storage/reusable-query.js';
import { accounts, checkpointRuns, stageRuns } from '../src/storage/schema.js';
import { resetStore } from './helpers/app.js';
import { storeFactories } from './helpers/stores.js';

type StageRunValues = { portfolio: string; weekId: string; stage: string; output: unknown; startedAt: Date };

/** Counts its builds: a reusable query is built once, whatever handles it runs on. */
let builds = 0;

const insertStageRun = reusableStatement((db, $: Slots<StageRunValues>) => {
  builds++;
  return db.insert(stageRuns).values({
    portfolio: $.portfolio,
    weekId: $.weekId,
    stage: $.stage,
    status: 'completed',
    output: $.output,
    attempt: 'a',
    startedAt: $.startedAt,
    finishedAt: $.startedAt,
  });
});

const stageRunsOf = reusableRows(getTableColumns(stageRuns), (db, $: Slots<{ portfolio: string; weekId: string }>, fields) =>
  db
    .select(fields)
    .from(stageRuns)
    .where(and(eq(stageRuns.portfolio, $.portfolio), eq(stageRuns.weekId, $.weekId)))
    .orderBy(asc(stageRuns.stage)),
);

const startedSince = reusableRows(
  { stage: stageRuns.stage, size: sql<number>`jsonb_array_length(${stageRuns.output}->'list')` },
  (db, $: Slots<{ since: Date }>, fields) =>
    db
      .select(fields)
      .from(stageRuns)
      .where(sql`${stageRuns.startedAt} >= ${encodedAs($.since, stageRuns.startedAt)}`)
      .orderBy(asc(stageRuns.stage)),
);

const accountsByIds = reusableRows(getTableColumns(accounts), (db, $: Slots<{ ids: number[] }>, fields) =>
  db
    .select(fields)
    .from(accounts)
    .where(sql`${accounts.id} = any(${$.ids})`)
    .orderBy(asc(accounts.id)),
);

describe.each(storeFactories)('reusable queries on $name', (factory) => {
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

  const output = { list: [1, 'two', null, { nested: 1.5e-7 }], text: 'a "quoted" — unicode \\ backslash' };

  it('stores and reads what drizzle stores and reads, on the database and inside a transaction, built once', async () => {
    const startedAt = new Date('2024-03-06T13:30:00.123Z');
    const before = builds;
    await insertStageRun(store.db, { portfolio: 'p', weekId: 'w1', stage: 'snapshot', output, startedAt });
    await store.db.transaction(async (tx) => {
      await insertStageRun(tx, { portfolio: 'p', weekId: 'w1', stage: 'research', output: { list: [] }, startedAt });
    });
    // The same rows through drizzle's own builders.
    await store.db.insert(stageRuns).values([
      { portfolio: 'q', weekId: 'w1', stage: 'snapshot', status: 'completed', output, attempt: 'a', startedAt, finishedAt: startedAt },
      {
        portfolio: 'q',
        weekId: 'w1',
        stage: 'research',
        status: 'completed',
        output: { list: [] },
        attempt: 'a',
        startedAt,
        finishedAt: startedAt,
      },
    ]);
    expect(builds - before).toBeLessThanOrEqual(1);

    const reusable = await stageRunsOf(store.db, { portfolio: 'p', weekId: 'w1' });
    const drizzle = await store.db
      .select()
      .from(stageRuns)
      .where(and(eq(stageRuns.portfolio, 'q'), eq(stageRuns.weekId, 'w1')))
      .orderBy(asc(stageRuns.stage));
    expect(reusable).toHaveLength(2);
    expect(reusable.map((r) => ({ ...r, portfolio: 'q' }))).toEqual(drizzle);
    expect(reusable[1]).toMatchObject({ stage: 'snapshot', output, startedAt });
    expect(reusable[1]?.startedAt).toBeInstanceOf(Date);
    expect(reusable[0]?.error).toBeNull();
  });

  it('runs inside the transaction it is given: sees its rows, and rolls back with it', async () => {
    const startedAt = new Date('2024-03-06T13:30:00Z');
    await expect(
      store.db.transaction(async (tx) => {
        await insertStageRun(tx, { portfolio: 'p', weekId: 'w2', stage: 'snapshot', output, startedAt });
        expect(await stageRunsOf(tx, { portfolio: 'p', weekId: 'w2' })).toHaveLength(1);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await stageRunsOf(store.db, { portfolio: 'p', weekId: 'w2' })).toEqual([]);
  });

  it('is a prepared statement of the connection it runs on: parsed and planned once per connection, not at every run', async () => {
    const text = stageRunsOf.query(store.db).sql;
    const prepared = await store.db.transaction(async (tx) => {
      // One transaction: one connection, where the statement ran and where its preparation is kept.
      await stageRunsOf(tx, { portfolio: 'p', weekId: 'w' });
      await stageRunsOf(tx, { portfolio: 'p', weekId: 'w' });
      const result = await tx.execute(sql`select name from pg_prepared_statements where statement = ${text}`);
      return (result as unknown as { rows: { name: string }[] }).rows;
    });
    expect(prepared).toHaveLength(1);
  });

  it('binds Dates through the column encoder, arrays as arrays, and reads sql fields as the driver returns them', async () => {
    const early = new Date('2024-03-04T14:30:00Z');
    const late = new Date('2024-03-06T14:30:00Z');
    await insertStageRun(store.db, { portfolio: 'p', weekId: 'w', stage: 'a', output: { list: [1, 2] }, startedAt: early });
    await insertStageRun(store.db, { portfolio: 'p', weekId: 'w', stage: 'b', output: { list: [1, 2, 3] }, startedAt: late });
    expect(await startedSince(store.db, { since: new Date('2024-03-05T00:00:00Z') })).toEqual([{ stage: 'b', size: 3 }]);
    expect(await startedSince(store.db, { since: early })).toEqual([
      { stage: 'a', size: 2 },
      { stage: 'b', size: 3 },
    ]);

    await store.db
      .insert(accounts)
      .values(
        [1, 2, 3].map((id) => ({ portfolio: 'default', id, owner: `o${id}`, broker: 'sim', startingCash: 1000 * id, cash: 1000 * id })),
      );
    expect((await accountsByIds(store.db, { ids: [3, 1] })).map((a) => [a.id, a.cash])).toEqual([
      [1, 1000],
      [3, 3000],
    ]);
    expect(await accountsByIds(store.db, { ids: [] })).toEqual([]);
  });

  it('refuses a run without a value for one of its placeholders, and writes nothing', async () => {
    await expect(
      insertStageRun(store.db, { portfolio: 'p', weekId: 'w', stage: 's', output: {} } as unknown as StageRunValues),
    ).rejects.toThrow(/startedAt/);
    expect(await stageRunsOf(store.db, { portfolio: 'p', weekId: 'w' })).toEqual([]);
  });

  it("refuses fields it cannot map, and its placeholders are never taken for a promise's", () => {
    expect(() => reusableRows({ nested: { id: accounts.id } } as never, (db) => db.select().from(accounts))).toThrow(
      /neither a column nor sql/,
    );
    let slots: unknown;
    reusableStatement((db, $: Slots<{ id: number }>) => {
      slots = $;
      return db.select().from(accounts);
    }).query(store.db);
    expect((slots as { then?: unknown }).then).toBeUndefined();
  });

  it('insertRows upserts with on conflict do update: set columns from the row, only where allowed', async () => {
    const at = (minute: number) => new Date(Date.UTC(2024, 2, 6, 14, minute));
    const row = (minute: number, status: string, reason: string | null, updatedAt: Date) => ({
      portfolio: 'p',
      weekId: 'w',
      checkpointAt: at(minute),
      date: '2024-03-06',
      time: `09:${minute}`,
      status,
      reason,
      updatedAt,
    });
    const first = new Date('2024-03-06T15:00:00Z');
    const second = new Date('2024-03-06T16:00:00Z');
    const options = {
      onConflictDoUpdate: {
        target: [checkpointRuns.portfolio, checkpointRuns.checkpointAt],
        set: [checkpointRuns.status, checkpointRuns.reason, checkpointRuns.updatedAt],
        where: "excluded.status <> 'skipped'",
      },
    };
    expect(await insertRows(store.db, checkpointRuns, [row(30, 'running', null, first), row(40, 'completed', null, first)], options)).toBe(
      2,
    );
    // 30 completes; 40 is "skipped" again, which never overwrites a row the slot has.
    expect(
      await insertRows(store.db, checkpointRuns, [row(30, 'completed', 'done', second), row(40, 'skipped', 'closed', second)], options),
    ).toBe(1);
    const stored = await store.db.select().from(checkpointRuns).orderBy(asc(checkpointRuns.checkpointAt));
    expect(stored.map((r) => [r.time, r.status, r.reason, r.updatedAt.toISOString()])).toEqual([
      ['09:30', 'completed', 'done', second.toISOString()],
      ['09:40', 'completed', null, first.toISOString()],
    ]);
    // The plain-insert fallback (a row leaving out a defaulted column another row gives) upserts the same way.
    expect(
      await insertRows(
        store.db,
        checkpointRuns,
        [row(30, 'failed', 'again', second), { ...row(50, 'completed', null, second), updatedAt: undefined }],
        options,
      ),
    ).toBe(2);
    const after = await store.db.select().from(checkpointRuns).orderBy(asc(checkpointRuns.checkpointAt));
    expect(after.map((r) => [r.time, r.status, r.reason])).toEqual([
      ['09:30', 'failed', 'again'],
      ['09:40', 'completed', null],
      ['09:50', 'completed', null],
    ]);
  });
});
