/**
 * One ticker's daily bars from Alpaca into market_daily_bars, incrementally (windows.ts).
 *
 * Two series are asked for over the same dates: the configured adjustment (split: traded prices made
 * continuous across splits) for open/high/low/close/volume, and adjustment=all for adj_close (splits
 * and dividends: total return). Both are adjusted as of today, so a split or a dividend after the last
 * sync changes every earlier adjusted price: the overlap sessions are compared with what is stored,
 * and when they moved (beyond rounding) the ticker's whole history is fetched again. Otherwise old
 * rows adjusted one way would meet new rows adjusted another, and returns across the seam would be
 * wrong. All of a ticker's rows are written in one transaction with its sync state: a sync that is
 * stopped keeps every ticker it finished.
 */
import { z } from 'zod';
import type { AlpacaClient } from '../../broker/alpaca/client.js';
import type { AlpacaBar } from '../../broker/alpaca/wire.js';
import type { Db } from '../../storage/db.js';
import { barProblem } from '../bundled-market-data.js';
import { addDays, previousTradingDay, utcToEt } from '../calendar.js';
import type { SyncSettings } from './settings.js';
import { dailyBounds, readState, storedCloses, upsertDaily, writeState, type DailyRow, type UpsertCount } from './store.js';
import { fetchWindows, grow, type DateRange, type Window } from './windows.js';

/** A stored close that moved by more than this (relative) was re-adjusted by Alpaca since. */
const READJUST_TOLERANCE = 1e-4;

export interface DailySyncResult extends UpsertCount {
  ticker: string;
  /** The ticker's stored range after the sync (first and last bar). */
  first: string | null;
  last: string | null;
  /** Why the whole history was fetched again, or null. */
  refetched: string | null;
  /** The windows asked for. */
  windows: Window[];
}

export interface DailySyncContext {
  db: Db;
  client: AlpacaClient;
  settings: SyncSettings;
  now: Date;
}

export const dailySeries = (ticker: string) => `daily:${ticker}`;

const Volume = z
  .number()
  .nonnegative()
  .transform((v) => Math.round(v));

export async function syncDaily(ctx: DailySyncContext, ticker: string, want: DateRange): Promise<DailySyncResult> {
  const { db, settings } = ctx;
  const state = await readState(db, dailySeries(ticker));
  const stored = state ? { from: state.firstDate, to: state.lastDate } : null;
  let refetched: string | null = null;
  if (state && (state.feed !== settings.feed || state.adjustment !== settings.adjustment))
    refetched = `stored with feed ${state.feed}, adjustment ${state.adjustment}; now ${settings.feed}, ${settings.adjustment}`;
  const everything = { from: stored && stored.from < want.from ? stored.from : want.from, to: want.to };

  let windows = refetched
    ? [{ kind: 'all' as const, ...everything }]
    : fetchWindows(stored, want, resumeDate(stored, settings), (d) => addDays(d, -1));
  let rows = await fetchRows(ctx, ticker, windows);
  if (!refetched && stored) {
    const moved = await readjusted(db, ticker, rows, stored);
    if (moved) {
      refetched = moved;
      windows = [{ kind: 'all', ...everything }];
      rows = await fetchRows(ctx, ticker, windows);
    }
  }

  const range = windows.reduce<DateRange | null>((r, w) => grow(r, w), refetched ? null : stored);
  const count = await db.transaction(async (tx) => {
    const written = await upsertDaily(tx, rows);
    if (range)
      await writeState(tx, {
        series: dailySeries(ticker),
        ticker,
        feed: settings.feed,
        adjustment: settings.adjustment,
        firstDate: range.from,
        lastDate: range.to,
        syncedAt: ctx.now,
      });
    return written;
  });
  const bounds = await dailyBounds(db, ticker);
  return { ticker, ...count, ...bounds, refetched, windows };
}

/** `overlap` sessions before the last stored date (that date itself when the overlap is 0). */
function resumeDate(stored: DateRange | null, settings: SyncSettings): string | null {
  if (!stored) return null;
  let date = stored.to;
  for (let i = 0; i < settings.overlapSessions; i++) date = previousTradingDay(date);
  return date;
}

async function fetchRows(ctx: DailySyncContext, ticker: string, windows: readonly Window[]): Promise<DailyRow[]> {
  const rows: DailyRow[] = [];
  for (const w of windows) {
    const options = { feed: ctx.settings.feed, pageLimit: ctx.settings.pageLimit };
    const [prices, total] = await Promise.all([
      ctx.client.getBars([ticker], '1Day', w.from, w.to, { ...options, adjustment: ctx.settings.adjustment }),
      ctx.client.getBars([ticker], '1Day', w.from, w.to, { ...options, adjustment: 'all' }),
    ]);
    const adjCloses = new Map((total[ticker] ?? []).map((b) => [sessionDate(b), b.close]));
    for (const bar of prices[ticker] ?? []) rows.push(dailyRow(ctx, ticker, bar, adjCloses.get(sessionDate(bar))));
  }
  return rows;
}

/** Alpaca stamps a daily bar at midnight New York time: its New York date is the session. */
function sessionDate(bar: AlpacaBar): string {
  return utcToEt(new Date(bar.timestamp)).date;
}

function dailyRow(ctx: DailySyncContext, ticker: string, bar: AlpacaBar, adjClose: number | undefined): DailyRow {
  const date = sessionDate(bar);
  if (adjClose === undefined)
    throw new Error(`Alpaca sent a ${ticker} bar for ${date} with adjustment ${ctx.settings.adjustment} but none with adjustment all`);
  const volume = Volume.parse(bar.volume);
  const problem = barProblem({ date, open: bar.open, high: bar.high, low: bar.low, close: bar.close, adjClose, volume });
  if (problem !== null) throw new Error(`Alpaca's ${ticker} bar of ${date} is malformed: ${problem}`);
  return {
    ticker,
    date,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    adjClose,
    volume,
    vwap: bar.vwap,
    tradeCount: bar.tradeCount === null ? null : Math.round(bar.tradeCount),
    source: 'alpaca',
    feed: ctx.settings.feed,
    adjustment: ctx.settings.adjustment,
    fetchedAt: ctx.now,
  };
}

/** Why the stored closes no longer match Alpaca's (a split or dividend since), or null. */
async function readjusted(db: Db, ticker: string, rows: readonly DailyRow[], stored: DateRange): Promise<string | null> {
  const overlap = rows.filter((r) => r.date >= stored.from && r.date <= stored.to);
  if (overlap.length === 0) return null;
  const before = await storedCloses(db, ticker, overlap[0]!.date, overlap.at(-1)!.date);
  for (const row of overlap) {
    const old = before.get(row.date);
    if (!old) continue;
    const off = (a: number, b: number) => Math.abs(a / b - 1) > READJUST_TOLERANCE;
    if (off(row.close, old.close))
      return `Alpaca's adjusted close of ${row.date} moved from ${old.close} to ${row.close} (a split since the last sync)`;
    if (off(row.adjClose, old.adjClose))
      return `Alpaca's total-return close of ${row.date} moved from ${old.adjClose} to ${row.adjClose} (a dividend or split since the last sync)`;
  }
  return null;
}
