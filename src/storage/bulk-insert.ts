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
import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable, PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './db.js';
import { reusableStatement } from './reusable-query.js';

export interface BulkInsertOptions {
  /** `on conflict (<target>) do nothing` (no target: any conflict). */
  onConflictDoNothing?: { target?: PgColumn };
  /**
   * `on conflict (<target>) do update set <column> = excluded.<column>, … [where <where>]`: the
   * columns in `set` take the inserted row's values. `where` is constant SQL text written in code
   * (it is part of the statement's cache key), never a value.
   */
  onConflictDoUpdate?: { target: readonly PgColumn[]; set: readonly PgColumn[]; where?: string };
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
  const statement = bulkStatement(
    table,
    used.map(([, column]) => column),
    options,
  );
  const result = await statement(db, { records: JSON.stringify(records) });
  return (result as unknown as { rows: unknown[] }).rows.length;
}

/**
 * The statement for one table, set of columns and conflict clause: built once (reusable-query.ts),
 * as a backtest week inserts into the same few tables with the same columns every time.
 */
const bulkStatements = new Map<string, (db: Db | Tx, values: { records: string }) => Promise<unknown>>();

function bulkStatement(table: PgTable, columns: readonly PgColumn[], options: BulkInsertOptions) {
  const key = [getTableName(table), conflictKey(options), ...columns.map((c) => c.name)].join(' ');
  let statement = bulkStatements.get(key);
  if (!statement) {
    statement = reusableStatement<{ records: string }>((_db, $) => {
      const list = sql.join(
        columns.map((column) => sql.identifier(column.name)),
        sql`, `,
      );
      return sql`insert into ${table} (${list}) select ${list} from jsonb_populate_recordset(null::${table}, ${$.records}::jsonb)${conflictClause(options)} returning 1`;
    });
    bulkStatements.set(key, statement);
  }
  return statement;
}

function conflictKey(options: BulkInsertOptions): string {
  const names = (columns: readonly PgColumn[]) => columns.map((c) => c.name).join(',');
  if (options.onConflictDoNothing) return `nothing(${options.onConflictDoNothing.target?.name ?? '*'})`;
  const update = options.onConflictDoUpdate;
  if (update) return `update(${names(update.target)};${names(update.set)};${update.where ?? ''})`;
  return '';
}

function conflictClause(options: BulkInsertOptions): SQL {
  const columnList = (columns: readonly PgColumn[]) =>
    sql.join(
      columns.map((column) => sql.identifier(column.name)),
      sql`, `,
    );
  if (options.onConflictDoNothing)
    return options.onConflictDoNothing.target
      ? sql` on conflict (${sql.identifier(options.onConflictDoNothing.target.name)}) do nothing`
      : sql` on conflict do nothing`;
  const update = options.onConflictDoUpdate;
  if (!update) return sql``;
  const set = sql.join(
    update.set.map((column) => sql`${sql.identifier(column.name)} = excluded.${sql.identifier(column.name)}`),
    sql`, `,
  );
  const where = update.where === undefined ? sql`` : sql` where ${sql.raw(update.where)}`;
  return sql` on conflict (${columnList(update.target)}) do update set ${set}${where}`;
}

/** drizzle's own multi-row insert, for the rows insertRows cannot pass as JSON. */
async function plainInsert<T extends PgTable>(
  db: Db | Tx,
  table: T,
  rows: readonly T['$inferInsert'][],
  options: BulkInsertOptions,
): Promise<number> {
  const insert = db.insert(table).values([...rows]);
  const nothing = options.onConflictDoNothing;
  const update = options.onConflictDoUpdate;
  const keyOf = new Map(Object.entries(getTableColumns(table)).map(([key, column]) => [column, key]));
  const inserted = await (
    nothing
      ? insert.onConflictDoNothing(nothing.target ? { target: nothing.target } : {})
      : update
        ? insert.onConflictDoUpdate({
            target: [...update.target],
            set: Object.fromEntries(
              update.set.map((column) => [keyOf.get(column), sql`excluded.${sql.identifier(column.name)}`]),
            ) as PgUpdateSetSource<T>,
            ...(update.where === undefined ? {} : { setWhere: sql.raw(update.where) }),
          })
        : insert
  ).returning();
  return inserted.length;
}
