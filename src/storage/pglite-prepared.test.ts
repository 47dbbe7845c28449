import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGLITE_PARSERS } from './pglite-client.js';
import { newPglite } from './pglite-open.js';
import { withPreparedStatements } from './pglite-prepared.js';

describe('PGlite queries through named prepared statements', () => {
  let plain: PGlite;
  let prepared: PGlite;
  let base: PGlite;
  beforeAll(async () => {
    plain = newPglite({ parsers: PGLITE_PARSERS }).client;
    base = newPglite({ parsers: PGLITE_PARSERS }).client;
    prepared = withPreparedStatements(base, { maxStatements: 3 });
    for (const db of [plain, prepared])
      await db.exec(
        `create table t (id serial primary key, k text not null, n numeric(20,6), d double precision, j jsonb, at timestamptz, flag boolean)`,
      );
  });
  afterAll(async () => {
    await plain.close();
    await base.close();
  });

  const insert = 'insert into t (k, n, d, j, at, flag) values ($1, $2, $3, $4, $5, $6) returning id, k, n, d, j, at, flag';
  const rows = [
    ['a', '0.1', 0.1, JSON.stringify({ x: [1, 'two', null] }), new Date('2024-03-10T07:30:00.123Z'), true],
    ['b', null, 1e21, null, null, false],
    ['c — "quoted"', '123.456789', -0, JSON.stringify('text'), new Date('2024-11-03T06:00:00Z'), null],
    // Long text and JSONB go as binary parameters (see binaryText): multi-byte characters, escapes, keys out of order.
    [
      `long ${'é€😀 "q" \\ '.repeat(100)}`,
      null,
      2,
      JSON.stringify({ z: 'é€😀'.repeat(200), a: [1.5, { 'k "x"': null }], n: 1e-7 }),
      null,
      true,
    ],
  ];

  it('returns what query returns, in both row modes, outside and inside transactions', async () => {
    for (const row of rows) expect(await prepared.query(insert, row)).toEqual(await plain.query(insert, row));
    const select = 'select * from t where k <> $1 order by id';
    expect(await prepared.query(select, ['none'], { rowMode: 'array' })).toEqual(await plain.query(select, ['none'], { rowMode: 'array' }));
    const inTx = (db: PGlite) =>
      db.transaction(async (tx) => [await tx.query(select, ['a']), await tx.query('update t set flag = $1 where k = $2', [true, 'b'])]);
    expect(await inTx(prepared)).toEqual(await inTx(plain));
    expect(await prepared.query(select, ['none'])).toEqual(await plain.query(select, ['none']));
    // The long values arrived as text, not as bytes: PostgreSQL sees the same characters (code points: 10 a repeat).
    const long = 'select length(k) as chars, octet_length(k) as bytes, j->>$2 as z from t where k like $1';
    expect(await prepared.query(long, ['long %', 'z'])).toEqual(await plain.query(long, ['long %', 'z']));
    expect((await prepared.query<{ chars: number }>(long, ['long %', 'z'])).rows[0]?.chars).toBe(5 + 10 * 100);
  });

  it('keeps a bounded number of statements, says which one failed, and prepares again a statement whose table changed', async () => {
    for (let i = 0; i < 6; i++) expect((await prepared.query(`select $1::int + ${i} as v`, [1])).rows).toEqual([{ v: 1 + i }]);
    const named = await base.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements');
    expect(named.rows[0]?.n).toBe(3);

    const failing = prepared.query('insert into t (k) values ($1)', [null]);
    await expect(failing).rejects.toMatchObject({ code: '23502', query: 'insert into t (k) values ($1)' });
    // The session is usable after the error, in and out of a transaction.
    await expect(prepared.transaction((tx) => tx.query('select k from t where id = $1', [1]))).resolves.toMatchObject({
      rows: [{ k: 'a' }],
    });

    const star = 'select * from t where id = $1';
    await prepared.query(star, [1]);
    await prepared.exec('alter table t add column extra text');
    expect(Object.keys((await prepared.query<Record<string, unknown>>(star, [1])).rows[0] ?? {})).toContain('extra');
  });
});
