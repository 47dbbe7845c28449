/**
 * The database side of `data sync`: upserts of bars that report what they added and what they
 * corrected, and the sync state of each series (market_sync_state). Rows that arrive unchanged are
 * not rewritten, so a re-run writes nothing.
 */
import { and, between, countDistinct, eq, getTableColumns, max, min, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Db, Tx } from '../../storage/db.js';
import { marketCalendar, marketDailyBars, marketMinuteBars, marketSyncState } from '../../storage/schema.js';

export type DailyRow = typeof marketDailyBars.$inferInsert;
export type MinuteRow = typeof marketMinuteBars.$inferInsert;
export type CalendarRow = typeof marketCalendar.$inferInsert;
export type SyncState = typeof marketSyncState.$inferSelect;

export interface UpsertCount {
  added: number;
  updated: number;
}

/** Rows per statement: PostgreSQL takes at most 65 535 parameters, a minute bar has 12. */
const CHUNK = 1000;

/** `set col = excluded.col` for every column but the key and fetched_at; updated only when a value differs. */
function changedColumns(
  table: string,
  columns: Record<string, PgColumn>,
  key: readonly string[],
): { set: Record<string, SQL>; where: SQL } {
  const compared = Object.values(columns).filter((c) => !key.includes(c.name) && c.name !== 'fetched_at');
  const set: Record<string, SQL> = {};
  for (const [prop, column] of Object.entries(columns)) {
    if (!key.includes(column.name)) set[prop] = sql.raw(`excluded."${column.name}"`);
  }
  const differs = sql.join(
    compared.map((c) => sql.raw(`"${table}"."${c.name}" is distinct from excluded."${c.name}"`)),
    sql.raw(' or '),
  );
  return { set, where: sql`(${differs})` };
}

const dailyUpdate = changedColumns('market_daily_bars', getTableColumns(marketDailyBars), ['ticker', 'date']);
const minuteUpdate = changedColumns('market_minute_bars', getTableColumns(marketMinuteBars), ['ticker', 'ts']);

/** Inserts new daily bars and rewrites stored ones whose values changed (Alpaca's corrections). */
export async function upsertDaily(tx: Db | Tx, rows: readonly DailyRow[]): Promise<UpsertCount> {
  const count = { added: 0, updated: 0 };
  for (let i = 0; i < rows.length; i += CHUNK) {
    const written = await tx
      .insert(marketDailyBars)
      .values(rows.slice(i, i + CHUNK))
      .onConflictDoUpdate({ target: [marketDailyBars.ticker, marketDailyBars.date], set: dailyUpdate.set, setWhere: dailyUpdate.where })
      // xmax = 0 marks a row this statement inserted (an updated row carries the updating transaction).
      .returning({ inserted: sql<boolean>`(xmax = 0)` });
    tally(count, written);
  }
  return count;
}

export async function upsertMinutes(tx: Db | Tx, rows: readonly MinuteRow[]): Promise<UpsertCount> {
  const count = { added: 0, updated: 0 };
  for (let i = 0; i < rows.length; i += CHUNK) {
    const written = await tx
      .insert(marketMinuteBars)
      .values(rows.slice(i, i + CHUNK))
      .onConflictDoUpdate({ target: [marketMinuteBars.ticker, marketMinuteBars.ts], set: minuteUpdate.set, setWhere: minuteUpdate.where })
      .returning({ inserted: sql<boolean>`(xmax = 0)` });
    tally(count, written);
  }
  return count;
}

function tally(count: UpsertCount, written: readonly { inserted: boolean }[]): void {
  for (const w of written) {
    if (w.inserted) count.added++;
    else count.updated++;
  }
}

/** The stored closes of a ticker in [from, to], by date (to compare with what Alpaca sends now). */
export async function storedCloses(
  db: Db | Tx,
  ticker: string,
  from: string,
  to: string,
): Promise<Map<string, { close: number; adjClose: number }>> {
  const rows = await db
    .select({ date: marketDailyBars.date, close: marketDailyBars.close, adjClose: marketDailyBars.adjClose })
    .from(marketDailyBars)
    .where(and(eq(marketDailyBars.ticker, ticker), between(marketDailyBars.date, from, to)));
  return new Map(rows.map((r) => [r.date, { close: r.close, adjClose: r.adjClose }]));
}

/** Replaces the calendar rows of [from, to] by `rows`; returns how many days were added or changed. */
export async function replaceCalendar(tx: Tx, from: string, to: string, rows: readonly CalendarRow[]): Promise<number> {
  const before = await tx
    .select()
    .from(marketCalendar)
    .where(between(marketCalendar.date, from, to));
  const old = new Map(before.map((r) => [r.date, `${r.open}-${r.close}`]));
  const now = new Set(rows.map((r) => r.date));
  const changed = rows.filter((r) => old.get(r.date) !== `${r.open}-${r.close}`).length + before.filter((r) => !now.has(r.date)).length;
  await tx.delete(marketCalendar).where(between(marketCalendar.date, from, to));
  for (let i = 0; i < rows.length; i += CHUNK) await tx.insert(marketCalendar).values(rows.slice(i, i + CHUNK));
  return changed;
}

export async function readState(db: Db | Tx, series: string): Promise<SyncState | null> {
  const [row] = await db.select().from(marketSyncState).where(eq(marketSyncState.series, series));
  return row ?? null;
}

export async function writeState(tx: Db | Tx, state: SyncState): Promise<void> {
  await tx
    .insert(marketSyncState)
    .values(state)
    .onConflictDoUpdate({
      target: marketSyncState.series,
      set: {
        feed: state.feed,
        adjustment: state.adjustment,
        firstDate: state.firstDate,
        lastDate: state.lastDate,
        syncedAt: state.syncedAt,
      },
    });
}

/** The first and last stored daily bar of a ticker. */
export async function dailyBounds(db: Db | Tx, ticker: string): Promise<{ first: string | null; last: string | null }> {
  const [row] = await db
    .select({ first: min(marketDailyBars.date), last: max(marketDailyBars.date) })
    .from(marketDailyBars)
    .where(eq(marketDailyBars.ticker, ticker));
  return { first: row?.first ?? null, last: row?.last ?? null };
}

/** The first and last session with minute bars of a ticker, and how many sessions have them. */
export async function minuteBounds(db: Db | Tx, ticker: string): Promise<{ first: string | null; last: string | null; days: number }> {
  const [row] = await db
    .select({ first: min(marketMinuteBars.date), last: max(marketMinuteBars.date), days: countDistinct(marketMinuteBars.date) })
    .from(marketMinuteBars)
    .where(eq(marketMinuteBars.ticker, ticker));
  return { first: row?.first ?? null, last: row?.last ?? null, days: Number(row?.days ?? 0) };
}
