/**
 * Many rows of one table in one statement with ONE parameter: the rows as a JSON array, expanded by
 * PostgreSQL's jsonb_populate_recordset (PGlite and PostgreSQL alike).
 *
 * Why: drizzle builds a multi-row insert parameter by parameter (≈ 2.5 µs each: ≈ 5 ms for the 100-odd
 * checkpoint rows of a week, as much as the database takes to store them), and the driver encodes each
 * one again. One JSON document costs one JSON.stringify.
 *
 * The same values are stored: a JSON number is the text String(n) gives, which is what drizzle sends
 * for numeric and double columns; a Date becomes its ISO string, as drizzle sends it; a jsonb column
 * takes the nested JSON value (JSON.stringify, as drizzle's jsonb mapping); JSON null is SQL NULL.
 * Columns no row names take their defaults; a row that leaves out a column others name gets NULL,
 * as a plain insert gives it when the column has no default. Rows this cannot store the same way (a
 * column with a default named by some rows only, a number with no JSON form such as NaN) go through
 * drizzle's plain insert instead.
 */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './db.js';

export interface BulkInsertOptions {
  /** `on conflict (<target>) do nothing` (no target: any conflict). */
  onConflictDoNothing?: { target?: PgColumn };
}

/** Inserts `rows` (in order: serial ids follow it) and returns how many were inserted. */
export async function insertRows<T extends PgTable>(
  db: Db | Tx,
  table: T,
  rows: readonly T['$inferInsert'][],
  options: BulkInsertOptions = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const columns = Object.entries(getTableColumns(table)) as [string, PgColumn][];
  const used = columns.filter(([key]) => rows.some((row) => (row as Record<string, unknown>)[key] !== undefined));
  const records: Record<string, unknown>[] = [];
  for (const row of rows) {
    const record: Record<string, unknown> = {};
    for (const [key, column] of used) {
      const value = (row as Record<string, unknown>)[key];
      if ((value === undefined && column.hasDefault) || (typeof value === 'number' && !Number.isFinite(value)))
        return plainInsert(db, table, rows, options);
      record[column.name] = value ?? null;
    }
    records.push(record);
  }
  const list = sql.join(
    used.map(([, column]) => sql.identifier(column.name)),
    sql`, `,
  );
  let conflict: SQL = sql``;
  if (options.onConflictDoNothing)
    conflict = options.onConflictDoNothing.target
      ? sql` on conflict (${sql.identifier(options.onConflictDoNothing.target.name)}) do nothing`
      : sql` on conflict do nothing`;
  const result = await db.execute(
    sql`insert into ${table} (${list}) select ${list} from jsonb_populate_recordset(null::${table}, ${JSON.stringify(records)}::jsonb)${conflict} returning 1`,
  );
  return (result as unknown as { rows: unknown[] }).rows.length;
}

/** drizzle's own multi-row insert, for the rows insertRows cannot pass as JSON. */
async function plainInsert<T extends PgTable>(
  db: Db | Tx,
  table: T,
  rows: readonly T['$inferInsert'][],
  options: BulkInsertOptions,
): Promise<number> {
  const insert = db.insert(table).values([...rows]);
  const conflict = options.onConflictDoNothing;
  const inserted = await (conflict ? insert.onConflictDoNothing(conflict.target ? { target: conflict.target } : {}) : insert).returning();
  return inserted.length;
}
