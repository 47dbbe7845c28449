/**
 * One ticker's minute bars from Alpaca into market_minute_bars, for the sessions of a date range
 * (the checkpoint days): incrementally (windows.ts; the overlap restarts at the last stored day,
 * which may have been fetched while it was still trading), one transaction per page of bars, so a
 * sync that is stopped keeps every page it stored and resumes after it. Only bars of the regular
 * session (as the calendar in use has it) are kept: a checkpoint reads the session's last trade.
 */
import { z } from 'zod';
import type { AlpacaClient } from '../../broker/alpaca/client.js';
import type { AlpacaBar } from '../../broker/alpaca/wire.js';
import type { Db } from '../../storage/db.js';
import { addDays, etToUtc, isTradingDay, minutesOf, sessionHours, utcToEt } from '../calendar.js';
import type { SyncSettings } from './settings.js';
import { minuteBounds, readState, upsertMinutes, writeState, type MinuteRow, type SyncState, type UpsertCount } from './store.js';
import { fetchWindows, grow, type DateRange, type Window } from './windows.js';

export interface MinuteSyncResult extends UpsertCount {
  ticker: string;
  /** Sessions with minute bars stored, and the first and last of them. */
  days: number;
  first: string | null;
  last: string | null;
  windows: Window[];
}

export interface MinuteSyncContext {
  db: Db;
  client: AlpacaClient;
  settings: SyncSettings;
  now: Date;
}

export const minuteSeries = (ticker: string) => `minute:${ticker}`;

const Price = z.number().positive();
const Volume = z
  .number()
  .nonnegative()
  .transform((v) => Math.round(v));

export async function syncMinutes(ctx: MinuteSyncContext, ticker: string, want: DateRange): Promise<MinuteSyncResult> {
  const { db, settings } = ctx;
  const state = await readState(db, minuteSeries(ticker));
  const sameFeed = state !== null && state.feed === settings.feed && state.adjustment === settings.adjustment;
  const stored = state && sameFeed ? { from: state.firstDate, to: state.lastDate } : null;
  const windows = fetchWindows(stored, want, stored?.to ?? null, (d) => addDays(d, -1));
  const count = { added: 0, updated: 0 };
  let range: DateRange | null = stored;
  for (const w of windows) {
    const start = etToUtc(w.from, '00:00');
    // Up to the end of the last day, or to the last bar whose minute is over (Alpaca's `end` takes
    // bars that start at it, and the bar of the current minute is still growing).
    const end = new Date(Math.min(etToUtc(addDays(w.to, 1), '00:00').getTime() - 1000, ctx.now.getTime() - 60_000));
    if (end <= start) continue;
    const pages = ctx.client.barPages([ticker], '1Min', start.toISOString(), end.toISOString(), {
      feed: settings.feed,
      adjustment: settings.adjustment,
      pageLimit: settings.pageLimit,
    });
    for await (const page of pages) {
      const bars = page[ticker] ?? [];
      const rows = bars.filter(inRegularSession).map((bar) => minuteRow(ctx, ticker, bar));
      const lastDay = bars.length > 0 ? utcToEt(new Date(bars.at(-1)!.timestamp)).date : null;
      // What is stored now runs without a gap from the window's start to the page's last day, so the
      // state may say so — except for a window before the stored range, which joins it only at its end.
      const reached = lastDay !== null && (range === null || w.from >= range.from) ? grow(range, { from: w.from, to: lastDay }) : range;
      const written = await db.transaction(async (tx) => {
        const n = await upsertMinutes(tx, rows);
        if (reached) await writeState(tx, stateOf(ctx, ticker, reached));
        return n;
      });
      range = reached;
      count.added += written.added;
      count.updated += written.updated;
    }
    range = grow(range, { from: w.from, to: w.to });
    await writeState(db, stateOf(ctx, ticker, range));
  }
  return { ticker, ...count, ...(await minuteBounds(db, ticker)), windows };
}

function stateOf(ctx: MinuteSyncContext, ticker: string, range: DateRange): SyncState {
  return {
    series: minuteSeries(ticker),
    ticker,
    feed: ctx.settings.feed,
    adjustment: ctx.settings.adjustment,
    firstDate: range.from,
    lastDate: range.to,
    syncedAt: ctx.now,
  };
}

function inRegularSession(bar: AlpacaBar): boolean {
  const { date, time } = utcToEt(new Date(bar.timestamp));
  if (!isTradingDay(date)) return false;
  const session = sessionHours(date);
  const t = minutesOf(time);
  return t >= minutesOf(session.open) && t < minutesOf(session.close);
}

function minuteRow(ctx: MinuteSyncContext, ticker: string, bar: AlpacaBar): MinuteRow {
  const where = `Alpaca's ${ticker} minute bar of ${bar.timestamp}`;
  for (const [name, value] of [
    ['open', bar.open],
    ['high', bar.high],
    ['low', bar.low],
    ['close', bar.close],
  ] as const) {
    if (!Price.safeParse(value).success) throw new Error(`${where}: ${name} ${value} is not a positive price`);
  }
  return {
    ticker,
    ts: new Date(bar.timestamp),
    date: utcToEt(new Date(bar.timestamp)).date,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: Volume.parse(bar.volume),
    vwap: bar.vwap,
    tradeCount: bar.tradeCount === null ? null : Math.round(bar.tradeCount),
    feed: ctx.settings.feed,
    fetchedAt: ctx.now,
  };
}
