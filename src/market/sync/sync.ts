/**
 * `llm-trading data sync`: Alpaca's calendar, then each ticker's daily bars, then (with minutes) each
 * ticker's minute bars of the checkpoint days, into the database. Each step is incremental and
 * idempotent (a re-run adds nothing) and commits as it goes (the calendar, a ticker's daily bars, a
 * page of minute bars), so a stopped sync loses nothing and the next one resumes.
 *
 * Daily bars stop at the last session that has closed (a bar of a session still trading is not that
 * day's bar); minute bars go up to now, so a checkpoint during the session can read the morning.
 */
import type { AlpacaClient } from '../../broker/alpaca/client.js';
import type { Db } from '../../storage/db.js';
import { UserError } from '../../errors.js';
import { addDays, etToUtc, isTradingDay, previousTradingDay, sessionHours, useTradingCalendar, utcToEt } from '../calendar.js';
import { loadSyncedCalendar } from '../synced-calendar.js';
import { syncCalendar, type CalendarSyncResult } from './calendar-sync.js';
import { syncDaily, type DailySyncResult } from './daily.js';
import { syncMinutes, type MinuteSyncResult } from './minute.js';
import type { SyncSettings } from './settings.js';

export interface SyncRequest {
  from?: string;
  to?: string;
  minutes: boolean;
}

export interface SyncDeps {
  db: Db;
  client: AlpacaClient;
  settings: SyncSettings;
  /** config/market-data.yaml `calendar`: whether the synced calendar decides trading days from now on. */
  calendar: 'alpaca' | 'builtin';
  tickers: readonly string[];
  now: Date;
  /** Told after each step (a line for the user). */
  onProgress?: (line: string) => void;
}

export interface TickerSync {
  ticker: string;
  daily: DailySyncResult;
  minutes: MinuteSyncResult | null;
}

export interface SyncReport {
  feed: string;
  adjustment: string;
  calendar: CalendarSyncResult;
  /** The daily range asked for: `to` is the last closed session (a later --to is capped). */
  daily_range: { from: string; to: string; capped: boolean };
  minute_range: { from: string; to: string } | null;
  tickers: TickerSync[];
}

export class SyncRangeError extends UserError {}

export async function syncMarketData(deps: SyncDeps, request: SyncRequest): Promise<SyncReport> {
  const { settings, now } = deps;
  const today = utcToEt(now).date;
  const from = request.from ?? settings.historyStart;
  if (request.to !== undefined && from > request.to) throw new SyncRangeError(`--from ${from} is after --to ${request.to}`);
  const progress = deps.onProgress ?? (() => undefined);

  // The calendar first: the sessions of the bars (which day has closed, what the regular session is)
  // follow it. Through the end of next year, for the schedule daemon's future days.
  const calendar = await syncCalendar(
    deps.db,
    deps.client,
    { from: from < settings.historyStart ? from : settings.historyStart, to: `${Number(today.slice(0, 4)) + 1}-12-31` },
    now,
  );
  progress(`calendar ${calendar.first}..${calendar.last}: ${calendar.tradingDays} trading days (${calendar.changed} changed)`);
  if (deps.calendar === 'alpaca') {
    const synced = await loadSyncedCalendar(deps.db);
    if (synced) useTradingCalendar(synced);
  }

  const lastClosed = isTradingDay(today) && now >= etToUtc(today, sessionHours(today).close) ? today : previousTradingDay(today);
  const dailyTo = request.to !== undefined && request.to < lastClosed ? request.to : lastClosed;
  const capped = request.to !== undefined && request.to > lastClosed;
  if (from > dailyTo) throw new SyncRangeError(`nothing to sync: --from ${from} is after the last closed session ${dailyTo}`);
  const minuteTo = request.to !== undefined && request.to < today ? request.to : today;
  const minuteFrom = request.from ?? addDays(minuteTo, -(7 * settings.minuteWeeks - 1));

  const ctx = { db: deps.db, client: deps.client, settings, now };
  const tickers: TickerSync[] = [];
  for (const ticker of deps.tickers) {
    const daily = await syncDaily(ctx, ticker, { from, to: dailyTo });
    progress(
      `${ticker} daily: +${daily.added} bars${daily.updated ? `, ${daily.updated} corrected` : ''} (${daily.first ?? '-'}..${daily.last ?? '-'})${daily.refetched ? `; history fetched again: ${daily.refetched}` : ''}`,
    );
    tickers.push({ ticker, daily, minutes: null });
  }
  if (request.minutes) {
    for (const entry of tickers) {
      entry.minutes = await syncMinutes(ctx, entry.ticker, { from: minuteFrom, to: minuteTo });
      progress(`${entry.ticker} minutes: +${entry.minutes.added} bars, ${entry.minutes.days} sessions stored`);
    }
  }
  return {
    feed: settings.feed,
    adjustment: settings.adjustment,
    calendar,
    daily_range: { from, to: dailyTo, capped },
    minute_range: request.minutes ? { from: minuteFrom, to: minuteTo } : null,
    tickers,
  };
}
