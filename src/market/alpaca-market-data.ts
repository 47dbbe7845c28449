import type { AppConfig } from '../config/app-config.js';
import type { Db } from '../storage/db.js';
import { useTradingCalendar } from './calendar.js';
import { DbMarketData, NoMarketDataError } from './db-market-data.js';
import { loadSyncedCalendar } from './synced-calendar.js';

/**
 * MARKET_DATA=alpaca at start-up: the bars `data sync` stored, and — unless config/market-data.yaml
 * says `calendar: builtin` — Alpaca's calendar as synced, installed for the whole process so the
 * week's dates, the checkpoints and the schedule follow the same calendar as the bars.
 */
export async function openAlpacaMarketData(db: Db, config: AppConfig): Promise<DbMarketData> {
  const marketData = await DbMarketData.open(db, config.tickers);
  if (config.marketData.calendar === 'alpaca') {
    const calendar = await loadSyncedCalendar(db);
    if (!calendar) throw new NoMarketDataError("MARKET_DATA=alpaca: Alpaca's calendar is not in the database; run `llm-trading data sync`");
    useTradingCalendar(calendar);
  }
  return marketData;
}

/**
 * A long-running process (the schedule daemon) reads Alpaca's calendar again before each pass: a
 * `data sync` since it started may have added days or changed one (an unscheduled closure). Without
 * synced rows the calendar in place stays.
 */
export async function reloadSyncedCalendar(db: Db, config: AppConfig): Promise<void> {
  if (config.marketData.calendar !== 'alpaca') return;
  const calendar = await loadSyncedCalendar(db);
  if (calendar) useTradingCalendar(calendar);
}
