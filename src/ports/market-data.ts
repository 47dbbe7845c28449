import type { Bar, PriceQuote } from '../market/types.js';

/** Daily bars and prices at an instant. Adapters: bundled CSV files (offline), Alpaca (later). */
export interface MarketData {
  readonly name: string;
  /** Bars of one ticker with date ≤ `through` (inclusive), ascending; at most `limit` of the latest. */
  bars(ticker: string, through: string, limit?: number): Promise<Bar[]>;
  /** The price of `ticker` on session `date` at America/New_York time `time` (HH:MM). */
  priceAt(ticker: string, date: string, time: string): Promise<PriceQuote>;
  /**
   * The last printed price of `ticker` knowable at America/New_York `time` on session `date`: what a
   * decision at that instant may see. Daily bars: before the open the previous close; from the open
   * until the close the day's open (the only print of the day known without looking ahead); at or
   * after the close the close. Never a modelled price. (Minute bars: the last trade at or before t.)
   */
  lastPrintAt(ticker: string, date: string, time: string): Promise<PriceQuote>;
  /** First and last session date for which every given ticker has a bar. */
  coverage(tickers: readonly string[]): Promise<{ first: string; last: string }>;
}
