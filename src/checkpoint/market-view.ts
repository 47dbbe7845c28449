/**
 * What the market looked like at a checkpoint's instant, from what was knowable then (DESIGN §3: point
 * in time). On daily bars that is the closes before the day plus the last print of the day (the open,
 * once the session has opened; MarketData.lastPrintAt): never the day's high, low or close, never a
 * modelled intraday price. Daily indicators take the last print as today's provisional close, the way a
 * trading screen shows an intraday RSI. Raw (unadjusted) closes: within one week a distribution moves an
 * indicator by a few hundredths at most, and prices stay comparable with the fills.
 */
import { previousTradingDay } from '../market/calendar.js';
import { lastOf, lastSma, macdSeries, realizedVol, rsiSeries, trailingReturn } from '../market/indicators.js';
import type { PriceQuote } from '../market/types.js';
import type { MarketData } from '../ports/market-data.js';

/** Sessions of history behind the indicators (MACD needs 26 + 9, SMA50 fifty, RSI settles after ~100). */
const HISTORY_SESSIONS = 160;

export type Measure =
  'price' | 'change_since_previous_close' | 'rsi_14' | 'macd_histogram' | 'realized_vol_20d' | 'return_1w' | 'sma_20' | 'sma_50';

export interface TickerView {
  ticker: string;
  quote: PriceQuote;
  previousClose: number;
  measures: Record<Measure, number | null>;
}

/** Reads and caches the views of tickers at instants (one view per ticker, date and time). */
export class MarketView {
  readonly #views = new Map<string, Promise<TickerView>>();
  readonly #measured = new Map<string, Promise<Pick<TickerView, 'previousClose' | 'measures'>>>();

  constructor(private readonly marketData: MarketData) {}

  at(ticker: string, date: string, time: string): Promise<TickerView> {
    const key = `${ticker} ${date} ${time}`;
    let view = this.#views.get(key);
    if (!view) {
      view = this.#read(ticker, date, time);
      this.#views.set(key, view);
    }
    return view;
  }

  async #read(ticker: string, date: string, time: string): Promise<TickerView> {
    const quote = await this.marketData.lastPrintAt(ticker, date, time);
    // The measures follow from the closes before the day and the last print, so every time of a
    // session that sees the same print (12:00, 14:00 and 15:50 all see the open) shares them.
    const key = `${ticker} ${date} ${quote.date} ${quote.price}`;
    let measured = this.#measured.get(key);
    if (!measured) {
      measured = this.#measure(ticker, date, quote);
      this.#measured.set(key, measured);
    }
    return { ticker, quote, ...(await measured) };
  }

  async #measure(ticker: string, date: string, quote: PriceQuote): Promise<Pick<TickerView, 'previousClose' | 'measures'>> {
    const history = await this.marketData.bars(ticker, previousTradingDay(date), HISTORY_SESSIONS);
    const closes = history.map((b) => b.close);
    const previousClose = closes.at(-1);
    if (previousClose === undefined) throw new Error(`no ${ticker} close before ${date}`);
    // The day's print becomes a provisional close only once the day has one (after the open).
    const series = quote.date === date ? [...closes, quote.price] : closes;
    return { previousClose, measures: measuresOf(series, quote.price, previousClose) };
  }
}

export function measuresOf(series: readonly number[], price: number, previousClose: number): Record<Measure, number | null> {
  return {
    price,
    change_since_previous_close: round6(price / previousClose - 1),
    rsi_14: round6(lastOf(rsiSeries(series, 14))),
    macd_histogram: round6(lastOf(macdSeries(series))?.histogram ?? null),
    realized_vol_20d: round6(realizedVol(series, 20)),
    return_1w: round6(trailingReturn(series, 5)),
    sma_20: round6(lastSma(series, 20)),
    sma_50: round6(lastSma(series, 50)),
  };
}

function round6(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : Math.round(x * 1e6) / 1e6;
}

/** "2024-03-07 open", "2024-03-06 close": where a checkpoint price comes from. */
export function quoteLabel(quote: PriceQuote): string {
  return `${quote.date} ${quote.source === 'bar_open' ? 'open' : quote.source === 'bar_close' ? 'close' : quote.time}`;
}
