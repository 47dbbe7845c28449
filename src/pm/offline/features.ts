/**
 * Derived, null-safe features of one asset that the persona scorers share. Returns are turned into
 * volatility-adjusted z-scores so that a 2% month in HYG and a 9% month in USO are comparable.
 */
import type { AssetSnapshot } from '../../market/types.js';

/** Fallback annualized vol when neither realized vol nor ATR is known (a typical ETF). */
const DEFAULT_VOL = 0.15;
/** Floor so that a near-zero vol cannot blow up the z-scores. */
const MIN_VOL = 0.01;

export interface Features {
  asset: AssetSnapshot;
  ticker: string;
  close: number;
  /** Annualized vol: realized 20d, else ATR%·√252, else DEFAULT_VOL. */
  vol: number;
  m1: number | null;
  m3: number | null;
  w1: number | null;
  /** 1m / 3m return divided by the vol expected over that horizon (≈ a t-stat of the move). */
  m1z: number;
  m3z: number;
  /** Close in ATRs away from SMA20 (positive = stretched above). */
  stretchAtr: number | null;
  rsi: number | null;
  macdHist: number | null;
  aboveSma50: boolean | null;
  aboveSma200: boolean | null;
  atrPct: number | null;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Direction of a condition as ±1 (0 if unknown). */
export function vote(condition: boolean | null): number {
  if (condition === null) return 0;
  return condition ? 1 : -1;
}

export function features(a: AssetSnapshot): Features {
  const volRaw = a.realized_vol_20d ?? (a.atr_pct !== null ? a.atr_pct * Math.sqrt(252) : DEFAULT_VOL);
  const vol = Math.max(MIN_VOL, volRaw);
  const z = (ret: number | null, sessions: number): number => (ret === null ? 0 : ret / (vol * Math.sqrt(sessions / 252)));
  return {
    asset: a,
    ticker: a.ticker,
    close: a.last_close,
    vol,
    m1: a.returns.m1,
    m3: a.returns.m3,
    w1: a.returns.w1,
    m1z: z(a.returns.m1, 21),
    m3z: z(a.returns.m3, 63),
    stretchAtr: a.sma_20 !== null && a.atr_14 !== null && a.atr_14 > 0 ? (a.last_close - a.sma_20) / a.atr_14 : null,
    rsi: a.rsi_14,
    macdHist: a.macd?.histogram ?? null,
    aboveSma50: a.sma_50 === null ? null : a.last_close > a.sma_50,
    aboveSma200: a.sma_200 === null ? null : a.last_close > a.sma_200,
    atrPct: a.atr_pct,
  };
}
