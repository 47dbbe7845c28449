import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { date, interval, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PGLITE_PARSERS, withSharedParsers } from './pglite-client.js';
import { newPglite } from './pglite-open.js';

const samples = pgTable('samples', {
  id: text('id').primaryKey(),
  at: timestamp('at', { withTimezone: true }).notNull(),
  naive: timestamp('naive').notNull(),
  day: date('day').notNull(),
  span: interval('span').notNull(),
});

const at = new Date('2024-03-10T07:30:00.123Z'); // the US DST switch, as a UTC instant
const row = { id: 'a', at, naive: new Date('2024-11-03T06:00:00.000Z'), day: '2024-03-10', span: '1 day 02:00:00' };

async function roundTrip(db: ReturnType<typeof drizzle>) {
  await db.execute(sql`drop table if exists samples`);
  await db.execute(
    sql`create table samples (id text primary key, at timestamptz not null, naive timestamp not null, day date not null, span interval not null)`,
  );
  await db.insert(samples).values(row);
  const [plain] = await db.select().from(samples);
  const [inTx] = await db.transaction((tx) => tx.select().from(samples));
  return { plain, inTx };
}

describe('withSharedParsers', () => {
  // Two instances for the file, blank (the build's template, else initdb).
  const reference = newPglite({}).client;
  const shared = newPglite({ parsers: PGLITE_PARSERS }).client;
  afterAll(async () => {
    await reference.close();
    await shared.close();
  });

  it('reads dates, timestamps and intervals exactly as drizzle does with its per-query parsers', async () => {
    const expected = await roundTrip(drizzle(reference));
    const actual = await roundTrip(drizzle(withSharedParsers(shared)));
    expect(expected.plain).toEqual(row);
    expect(actual).toEqual(expected);
    expect(actual.plain?.at).toBeInstanceOf(Date);
    expect(actual.plain?.at.toISOString()).toBe('2024-03-10T07:30:00.123Z');
  });

  it('sends no per-query parsers to PGlite, inside transactions too', async () => {
    const client = shared;
    const seen: unknown[] = [];
    const original = client.query.bind(client);
    vi.spyOn(client, 'query').mockImplementation((query, params, options) => {
      seen.push(options);
      return original(query, params, options);
    });
    const originalTransaction = client.transaction.bind(client);
    vi.spyOn(client, 'transaction').mockImplementation((callback) =>
      originalTransaction((tx) => {
        const txQuery = tx.query.bind(tx);
        tx.query = ((query: string, params?: unknown[], options?: Record<string, unknown>) => {
          seen.push(options);
          return txQuery(query, params, options);
        }) as typeof tx.query;
        return callback(tx);
      }),
    );
    await roundTrip(drizzle(withSharedParsers(client)));
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const options of seen) expect(options ?? {}).not.toHaveProperty('parsers');
  });
});
