/**
 * Statements whose SQL drizzle builds once per process, then runs with new values each time.
 *
 * Why: drizzle builds a statement's text from its query builder on every execution, walking the
 * whole tree of chunks. For the short selects, inserts and updates a backtest week repeats (about 60
 * a week) that cost 100–370 µs a statement, about a tenth of an offline week (measured with a timer
 * on drizzle's builders over 104 weeks: 6,274 builds, 1.1 s), and often more than PGlite takes to
 * run the statement itself.
 *
 * How: the query is written once with `sql.placeholder` for its values (the `$` of `build`). Its text
 * and parameter list come from drizzle's own `toSQL()`, so the SQL is exactly what drizzle would send;
 * each run hands that text and the values to the handle's session (`db._.session.prepareQuery`,
 * drizzle's public session API), on the database or inside a transaction alike. Values bound to a
 * column in `insert … values` or `update … set` go through the column's encoder as usual (a jsonb
 * value is stringified, a Date becomes its ISO text); a placeholder compared in a `where` is sent
 * as it is, as drizzle sends any placeholder. Rows come back mapped as drizzle maps a select of the
 * same flat columns (`fields`), with each column's decoder.
 *
 * Each runs as a named prepared statement (the name derives from its text): node-postgres parses it
 * once per connection and PostgreSQL plans it without parsing it again (an offline backtest on
 * PostgreSQL was about an eighth faster); the embedded database already prepares every text
 * (pglite-prepared.ts). A prepared statement may get a generic plan after five runs, which cannot see
 * the values: tests/query-plans.test.ts reads those of the statements that touch growing tables.
 *
 * Not for: queries whose shape changes with the values (a list of rows, an optional clause), which
 * would need one text per shape.
 */
import { createHash } from 'node:crypto';
import { Column, is, SQL, sql, type Placeholder, type Query } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './db.js';

type Handle = Db | Tx;

/** One `sql.placeholder` per value the query takes, named after it. */
export type Slots<P> = { readonly [K in keyof P & string]: Placeholder<K> };

/**
 * Flat columns, or `sql<T>` expressions read as the driver returns them (no `mapWith`), in the order
 * the query selects or returns them. Nested selections are not supported.
 */
export type Fields = Record<string, Column | SQL>;

/** A row of `fields` as drizzle types it. */
export type RowOf<F extends Fields> = {
  [K in keyof F]: F[K] extends Column
    ? F[K]['_']['notNull'] extends true
      ? F[K]['_']['data']
      : F[K]['_']['data'] | null
    : F[K] extends SQL<infer T>
      ? T
      : never;
};

/**
 * A placeholder sent through `column`'s encoder, as a value bound to that column would be: for
 * `update … set` (which takes no bare placeholder) and for comparisons with a Date or JSON value.
 */
export function encodedAs(placeholder: Placeholder, column: Column): SQL {
  return sql`${sql.param(placeholder, column)}`;
}

/** Runs the statement with `values`; `query` is its text and parameters (placeholders unfilled), e.g. to explain it. */
export interface Reusable<P, R> {
  (db: Handle, values: P): Promise<R>;
  query(db: Handle): Query;
}

interface Buildable {
  toSQL(): Query;
}

const slots = new Proxy(
  {},
  {
    // Not a thenable: a slot set is never awaited by mistake.
    get: (_target, name) => (typeof name === 'string' && name !== 'then' ? sql.placeholder(name) : undefined),
  },
);

const dialect = new PgDialect();

function toQuery(built: Buildable | SQL): Query {
  if (is(built, SQL)) return dialect.sqlToQuery(built);
  return (built as Buildable).toSQL();
}

/** Maps result rows in array mode as drizzle's select of the same flat columns does. */
function rowMapper<F extends Fields>(fields: F): (rows: unknown[][]) => RowOf<F>[] {
  // Each field's decoder, found once: a column's own; none for sql (read as the driver returns it).
  const decoders = Object.entries(fields).map(([key, field]) => {
    if (is(field, Column)) return { key, column: field };
    if (is(field, SQL)) return { key, column: null };
    throw new TypeError(`reusable query: field ${key} is neither a column nor sql (nested selections are not supported)`);
  });
  return (rows) =>
    rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const [i, { key, column }] of decoders.entries()) {
        const value = row[i];
        out[key] = value === null || value === undefined ? null : column ? column.mapFromDriverValue(value) : value;
      }
      return out as RowOf<F>;
    });
}

/**
 * A statement whose result is the driver's own (an insert or update without `returning`, or a `sql`
 * statement whose rows are read as the database names them): what `db.execute` or awaiting the
 * builder gives.
 */
export function reusableStatement<P extends object>(build: (db: Handle, $: Slots<P>) => Buildable | SQL): Reusable<P, unknown> {
  return reusable((db) => build(db, slots as Slots<P>));
}

/**
 * A select (or an insert, update or delete with `returning`) of the flat columns `fields`; `build`
 * must select or return exactly these, e.g. `(db, $, f) => db.select(f).from(t).where(eq(t.id, $.id))`.
 */
export function reusableRows<F extends Fields, P extends object>(
  fields: F,
  build: (db: Handle, $: Slots<P>, fields: F) => Buildable,
): Reusable<P, RowOf<F>[]> {
  return reusable((db) => build(db, slots as Slots<P>, fields), rowMapper(fields)) as Reusable<P, RowOf<F>[]>;
}

/** The query built on first use; each run through the handle's session, rows in array mode when mapped. */
function reusable<P>(build: (db: Handle) => Buildable | SQL, mapRows?: (rows: unknown[][]) => unknown): Reusable<P, unknown> {
  let query: Query | undefined;
  let name: string | undefined;
  const queryOf = (db: Handle) => (query ??= toQuery(build(db)));
  return Object.assign(
    (db: Handle, values: P) => {
      const built = queryOf(db);
      // The same text, the same name, in every process (node-postgres refuses one name for two texts).
      name ??= `lt_${createHash('sha256').update(built.sql).digest('hex').slice(0, 24)}`;
      return db._.session.prepareQuery(built, undefined, name, mapRows !== undefined, mapRows).execute(values as Record<string, unknown>);
    },
    { query: queryOf },
  );
}
