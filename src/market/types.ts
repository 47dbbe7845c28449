/** One daily OHLCV bar. open/high/low/close are traded (split-adjusted) prices; adj_close is total-return adjusted. */
export interface Bar {
  date: string; // YYYY-MM-DD, the NYSE session date
  open: number;
  high: number;
  low: number;
  close: number;
  adjClose: number;
  volume: number;
}

/** A price at an instant, with how it was obtained (intraday prices from daily bars are modelled). */
export interface PriceQuote {
  ticker: string;
  price: number;
  /** The session date and America/New_York time the price is for. */
  date: string;
  time: string;
  /**
   * 'bar_open' | 'bar_close' are real prints of the daily bar; 'minute_bar' is the close of the last
   * minute bar that ended at or before the time (a real trade); 'intraday_model' is interpolated from
   * the daily bar.
   */
  source: 'bar_open' | 'bar_close' | 'minute_bar' | 'intraday_model' | 'live';
  approximate: boolean;
}

/** Point-in-time indicators of one instrument, computed from bars up to and including `last_date` only. */
export interface AssetSnapshot {
  ticker: string;
  name: string;
  category: string;
  last_date: string;
  last_close: number;
  /** Total returns (from adj_close) as fractions: 0.012 = +1.2%. null when history is too short. */
  returns: { d1: number | null; w1: number | null; m1: number | null; m3: number | null };
  /** Annualized realized volatility of daily log returns over 20 sessions. */
  realized_vol_20d: number | null;
  sma_20: number | null;
  sma_50: number | null;
  sma_200: number | null;
  ema_20: number | null;
  rsi_14: number | null;
  macd: { macd: number; signal: number; histogram: number } | null;
  atr_14: number | null;
  /** ATR as a fraction of the last close. */
  atr_pct: number | null;
  /** (close / 52w high) − 1, ≤ 0; and (close / 52w low) − 1, ≥ 0. Highs and lows from raw highs/lows. */
  pct_from_52w_high: number | null;
  pct_from_52w_low: number | null;
  /** Correlation of daily returns with SPY over 60 sessions (1 for SPY itself). */
  corr_spy_60d: number | null;
}

export interface MarketSnapshot {
  week_id: string;
  asof_et: string;
  /** The last session whose bar was used: strictly before the decision time. */
  data_through: string;
  source: string;
  assets: AssetSnapshot[];
}
