/**
 * MarketData over the bars `llm-trading data sync` stored from Alpaca (MARKET_DATA=alpaca): daily bars
 * in market_daily_bars, minute bars of regular sessions in market_minute_bars. Same point-in-time rules
 * as the bundled adapter (ports/market-data.ts), with one difference: where minute bars are stored for
 * the day, a price inside the session is the real last trade, not the open or a model.
 *
 * lastPrintAt(t) — what a decision at t may see:
 *   - before the open, or on a closed day: the previous session's close ('bar_close').
 *   - inside the session, minute bars stored for the day: the close of the last minute bar that ended
 *     at or before t, i.e. started at or before t − 1 min ('minute_bar', not approximate). A bar that
 *     started at 11:59 holds the trades up to 11:59:59, so a 12:00 checkpoint sees it and never the
 *     12:00 bar. No bar finished yet (the first minute): the previous close.
 *   - inside the session, no minute bars for the day: the daily rule of the bundled adapter — the
 *     day's open ('bar_open') — flagged approximate, since it is a stale print, not the price at t.
 *   - at or after the close: the day's close ('bar_close').
 * priceAt(t) (fills and marks): the open at exactly the open and the close from the close on (printed
 * auction prices, as the bundled adapter), the last minute bar inside the session, and the bundled
 * adapter's intraday model (approximate) where the day has no minute bars.
 *
 * Daily bars are read once per ticker and kept; a request past the last one kept reads the rows added
 * since (a long-lived daemon sees what a later `data sync` stored). Minute bars are read per ticker
 * and day, on demand, and kept — except for a day with no daily bar yet (a session still trading when
 * it was synced): there a time past the last bar read looks again.
 */
import { and, asc, eq, gt, gte, inArray, lt } from 'drizzle-orm';
import type { MarketData } from '../ports/market-data.js';
import type { Db } from '../storage/db.js';
import { marketDailyBars, marketMinuteBars } from '../storage/schema.js';
import { UserError } from '../errors.js';
import {
  barProblem,
  closeBeforeQuote,
  commonRange,
  intradayModelPrice,
  lastIndexOnOrBefore,
  sessionHoursOrRegular,
} from './bundled-market-data.js';
import { etToUtc, isTradingDay, isValidDate, minutesOf, utcToEt } from './calendar.js';
import type { Bar, PriceQuote } from './types.js';

export class NoMarketDataError extends UserError {}

interface MinuteBar {
  /** Start of the bar, ms since the epoch. */
  startMs: number;
  close: number;
}

const MINUTE_MS = 60_000;
/** Ticker-days of minute bars kept in memory (a week of checkpoints needs 10 tickers × 5 days). */
const MINUTE_DAYS_KEPT = 256;

export class DbMarketData implements MarketData {
  readonly name = 'alpaca';
  readonly #db: Db;
  readonly #daily = new Map<string, Promise<Bar[]>>();
  readonly #minutes = new Map<string, Promise<readonly MinuteBar[]>>();

  constructor(db: Db) {
    this.#db = db;
  }

  /** The adapter, once every ticker has daily bars stored; else a refusal that says to sync. */
  static async open(db: Db, tickers: readonly string[]): Promise<DbMarketData> {
    const rows = await db
      .select({ ticker: marketDailyBars.ticker })
      .from(marketDailyBars)
      .where(inArray(marketDailyBars.ticker, [...tickers]))
      .groupBy(marketDailyBars.ticker);
    const have = new Set(rows.map((r) => r.ticker));
    const missing = tickers.filter((t) => !have.has(t));
    if (missing.length > 0) {
      const which = missing.length === tickers.length ? 'no Alpaca bars in the database' : `no Alpaca bars for ${missing.join(', ')}`;
      throw new NoMarketDataError(`MARKET_DATA=alpaca: ${which}; run \`llm-trading data sync\` first`);
    }
    return new DbMarketData(db);
  }

  async bars(ticker: string, through: string, limit?: number): Promise<Bar[]> {
    if (!isValidDate(through)) throw new Error(`bars(${ticker}): invalid date "${through}", expected YYYY-MM-DD`);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new Error(`bars(${ticker}): limit must be a non-negative integer, got ${limit}`);
    }
    const all = await this.#dailyThrough(ticker, through);
    const end = lastIndexOnOrBefore(all, through) + 1;
    const start = limit === undefined ? 0 : Math.max(0, end - limit);
    return all.slice(start, end);
  }

  async coverage(tickers: readonly string[]): Promise<{ first: string; last: string }> {
    if (tickers.length === 0) throw new Error('coverage: no tickers given');
    const ranges = [];
    for (const ticker of tickers) {
      const all = await this.#dailyThrough(ticker, '9999-12-31');
      const first = all[0]?.date;
      const last = all.at(-1)?.date;
      if (first === undefined || last === undefined)
        throw new NoMarketDataError(`no Alpaca bars for ${ticker}; run \`llm-trading data sync\``);
      ranges.push({ first, last });
    }
    return commonRange(tickers, ranges);
  }

  async lastPrintAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    if (!isValidDate(date)) throw new Error(`lastPrintAt(${ticker}): invalid date "${date}", expected YYYY-MM-DD`);
    const t = minutesOf(time);
    if (!isTradingDay(date) || t < minutesOf(sessionHoursOrRegular(date).open)) return this.#closeBefore(ticker, date, time);
    const session = sessionHoursOrRegular(date);
    const all = await this.#dailyThrough(ticker, date);
    const bar = all[lastIndexOnOrBefore(all, date)];
    const today = bar?.date === date ? bar : undefined;
    if (t >= minutesOf(session.close) && today)
      return { ticker, date, time: session.close, price: today.close, source: 'bar_close', approximate: false };
    const minutes = await this.#minuteBars(ticker, date, time, today === undefined);
    if (minutes.length > 0) return (await this.#lastMinute(ticker, date, time, minutes)) ?? this.#closeBefore(ticker, date, time);
    if (!today) return this.#closeBefore(ticker, date, time);
    // No minute bars for the day: the bundled adapter's rule (the open), flagged as not the price at t.
    if (t >= minutesOf(session.close))
      return { ticker, date, time: session.close, price: today.close, source: 'bar_close', approximate: false };
    return { ticker, date, time: session.open, price: today.open, source: 'bar_open', approximate: t > minutesOf(session.open) };
  }

  async priceAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    if (!isValidDate(date)) throw new Error(`priceAt(${ticker}): invalid date "${date}", expected YYYY-MM-DD`);
    const t = minutesOf(time);
    const session = sessionHoursOrRegular(date);
    const all = await this.#dailyThrough(ticker, date);
    const bar = all[lastIndexOnOrBefore(all, date)];
    if (bar?.date === date && t < minutesOf(session.open)) return this.#closeBefore(ticker, date, time);
    const inside = t > minutesOf(session.open) && t < minutesOf(session.close);
    if (inside && isTradingDay(date)) {
      const minutes = await this.#minuteBars(ticker, date, time, bar?.date !== date);
      const quote = minutes.length > 0 ? await this.#lastMinute(ticker, date, time, minutes) : null;
      if (quote) return quote;
    }
    if (!bar || bar.date !== date) {
      const why = isTradingDay(date) ? 'not synced from Alpaca' : 'not an NYSE trading day';
      throw new Error(`no ${ticker} bar on ${date} (${why}; data ${all[0]?.date} to ${all.at(-1)?.date})`);
    }
    return { ticker, ...intradayModelPrice(bar, session, time) };
  }

  /** The close of the last regular-session minute bar that ended at or before `time`, or null. */
  async #lastMinute(ticker: string, date: string, time: string, minutes: readonly MinuteBar[]): Promise<PriceQuote | null> {
    const cutoff = etToUtc(date, time).getTime() - MINUTE_MS;
    let found: MinuteBar | undefined;
    for (const m of minutes) {
      if (m.startMs > cutoff) break;
      found = m;
    }
    if (!found) return null;
    return {
      ticker,
      date,
      time: utcToEt(new Date(found.startMs + MINUTE_MS)).time,
      price: found.close,
      source: 'minute_bar',
      approximate: false,
    };
  }

  /** The last close strictly before `date` (what anyone could see before the day's open). */
  async #closeBefore(ticker: string, date: string, time: string): Promise<PriceQuote> {
    return closeBeforeQuote(ticker, await this.#dailyThrough(ticker, date), date, time);
  }

  /** The ticker's daily bars, read again from the database for rows past the last one kept when `through` is later. */
  async #dailyThrough(ticker: string, through: string): Promise<Bar[]> {
    let pending = this.#daily.get(ticker);
    if (!pending) {
      pending = this.#readDaily(ticker, null);
      pending.catch(() => this.#daily.delete(ticker));
      this.#daily.set(ticker, pending);
    }
    const bars = await pending;
    const last = bars.at(-1)?.date;
    if (last !== undefined && through > last) {
      const newer = await this.#readDaily(ticker, last);
      if (newer.length > 0) {
        const merged = [...bars, ...newer];
        this.#daily.set(ticker, Promise.resolve(merged));
        return merged;
      }
    }
    return bars;
  }

  async #readDaily(ticker: string, after: string | null): Promise<Bar[]> {
    const rows = await this.#db
      .select({
        date: marketDailyBars.date,
        open: marketDailyBars.open,
        high: marketDailyBars.high,
        low: marketDailyBars.low,
        close: marketDailyBars.close,
        adjClose: marketDailyBars.adjClose,
        volume: marketDailyBars.volume,
      })
      .from(marketDailyBars)
      .where(and(eq(marketDailyBars.ticker, ticker), after === null ? undefined : gt(marketDailyBars.date, after)))
      .orderBy(asc(marketDailyBars.date));
    for (const row of rows) {
      // The sync checks bars before storing them; this catches a table edited by hand.
      const problem = barProblem(row);
      if (problem !== null) throw new Error(`market_daily_bars ${ticker} ${row.date}: ${problem}`);
    }
    return rows;
  }

  /** `open`: the day may still be growing in the database (no daily bar yet): read again past its last bar. */
  async #minuteBars(ticker: string, date: string, time: string, open: boolean): Promise<readonly MinuteBar[]> {
    const key = `${ticker} ${date}`;
    const cached = this.#minutes.get(key);
    if (cached && open) {
      const lastEnd = ((await cached).at(-1)?.startMs ?? Number.NEGATIVE_INFINITY) + MINUTE_MS;
      if (lastEnd < etToUtc(date, time).getTime()) this.#minutes.delete(key);
    }
    let pending = this.#minutes.get(key);
    if (!pending) {
      if (this.#minutes.size >= MINUTE_DAYS_KEPT) this.#minutes.clear();
      pending = this.#readMinutes(ticker, date);
      pending.catch(() => this.#minutes.delete(key));
      this.#minutes.set(key, pending);
    }
    return pending;
  }

  async #readMinutes(ticker: string, date: string): Promise<readonly MinuteBar[]> {
    const session = sessionHoursOrRegular(date);
    const open = etToUtc(date, session.open);
    const close = etToUtc(date, session.close);
    const rows = await this.#db
      .select({ ts: marketMinuteBars.ts, close: marketMinuteBars.close })
      .from(marketMinuteBars)
      .where(
        and(
          eq(marketMinuteBars.ticker, ticker),
          eq(marketMinuteBars.date, date),
          // Regular session only: pre-market prints are not the day's "last print" under the rules above.
          gte(marketMinuteBars.ts, open),
          lt(marketMinuteBars.ts, close),
        ),
      )
      .orderBy(asc(marketMinuteBars.ts));
    return rows.map((r) => ({ startMs: r.ts.getTime(), close: r.close }));
  }
}
