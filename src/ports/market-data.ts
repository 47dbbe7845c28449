import type { Bar, PriceQuote } from '../market/types.js';

/** Daily bars and prices at an instant. Adapters: bundled CSV files (offline), Alpaca (later). */
export interface MarketData {
  readonly name: string;
  /** Bars of one ticker with date ≤ `through` (inclusive), ascending; at most `limit` of the latest. */
  bars(ticker: string, through: string, limit?: number): Promise<Bar[]>;
  /** The price of `ticker` on session `date` at America/New_York time `time` (HH:MM). */
  priceAt(ticker: string, date: string, time: string): Promise<PriceQuote>;
  /** First and last session date for which every given ticker has a bar. */
  coverage(tickers: readonly string[]): Promise<{ first: string; last: string }>;
}
