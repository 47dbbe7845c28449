/** What the market-data tables hold, per ticker (`llm-trading data status`). */
import { count, countDistinct, eq, inArray, max, min } from 'drizzle-orm';
import type { Db } from '../../storage/db.js';
import { marketCalendar, marketDailyBars, marketMinuteBars, marketSyncState } from '../../storage/schema.js';
import { CALENDAR_SERIES } from '../synced-calendar.js';
import { dailySeries } from './daily.js';

export interface TickerCoverage {
  ticker: string;
  daily_bars: number;
  first: string | null;
  last: string | null;
  feed: string | null;
  adjustment: string | null;
  synced_at: string | null;
  minute_sessions: number;
  minutes_first: string | null;
  minutes_last: string | null;
}

export interface MarketCoverage {
  calendar: { first: string; last: string; trading_days: number } | null;
  tickers: TickerCoverage[];
}

export async function marketCoverage(db: Db, tickers: readonly string[]): Promise<MarketCoverage> {
  const list = [...tickers];
  const [daily, minutes, states, [calendarState], [calendarDays]] = await Promise.all([
    db
      .select({ ticker: marketDailyBars.ticker, bars: count(), first: min(marketDailyBars.date), last: max(marketDailyBars.date) })
      .from(marketDailyBars)
      .where(inArray(marketDailyBars.ticker, list))
      .groupBy(marketDailyBars.ticker),
    db
      .select({
        ticker: marketMinuteBars.ticker,
        days: countDistinct(marketMinuteBars.date),
        first: min(marketMinuteBars.date),
        last: max(marketMinuteBars.date),
      })
      .from(marketMinuteBars)
      .where(inArray(marketMinuteBars.ticker, list))
      .groupBy(marketMinuteBars.ticker),
    db
      .select()
      .from(marketSyncState)
      .where(inArray(marketSyncState.series, list.map(dailySeries))),
    db.select().from(marketSyncState).where(eq(marketSyncState.series, CALENDAR_SERIES)),
    db.select({ days: count() }).from(marketCalendar),
  ]);
  return {
    calendar: calendarState
      ? { first: calendarState.firstDate, last: calendarState.lastDate, trading_days: Number(calendarDays?.days ?? 0) }
      : null,
    tickers: list.map((ticker) => {
      const d = daily.find((r) => r.ticker === ticker);
      const m = minutes.find((r) => r.ticker === ticker);
      const s = states.find((r) => r.ticker === ticker);
      return {
        ticker,
        daily_bars: Number(d?.bars ?? 0),
        first: d?.first ?? null,
        last: d?.last ?? null,
        feed: s?.feed ?? null,
        adjustment: s?.adjustment ?? null,
        synced_at: s ? s.syncedAt.toISOString() : null,
        minute_sessions: Number(m?.days ?? 0),
        minutes_first: m?.first ?? null,
        minutes_last: m?.last ?? null,
      };
    }),
  };
}
