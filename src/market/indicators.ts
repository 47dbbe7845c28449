/**
 * Technical indicators as plain functions over ascending series. The moving averages, RSI, MACD and
 * ATR come from `trading-signals`; returns, volatility, ranges and correlation are small enough to
 * write here. Series functions return one entry per input, null until the indicator has warmed up,
 * so a caller can read both the latest value and the one before it.
 *
 * Conventions of trading-signals to know: EMA is seeded with the first price (not an SMA), RSI and
 * ATR use Wilder smoothing seeded with an SMA. Seeds fade geometrically, so after a few hundred
 * bars the values agree with other libraries to ~1e-12; callers wanting stable numbers should feed
 * enough history (snapshot.ts feeds 600 bars).
 */
import { ATR, EMA, getAverage, MACD, RSI, SMA } from 'trading-signals';

export interface MacdValue {
  macd: number;
  signal: number;
  histogram: number;
}

export interface HighLowClose {
  high: number;
  low: number;
  close: number;
}

export function smaSeries(values: readonly number[], period: number): (number | null)[] {
  const sma = new SMA(period);
  return values.map((v) => sma.add(v));
}

/**
 * The last value of smaSeries, without the series: trading-signals averages its whole window at every
 * input (period × inputs additions: 120 000 for an SMA200 over the snapshot's 600 bars), and only the
 * last window counts. Its own getAverage over that window, so the number is the same to the bit.
 */
export function lastSma(values: readonly number[], period: number): number | null {
  return values.length >= period ? getAverage(values.slice(values.length - period)) : null;
}

/** EMA, null until `period` inputs have been seen (trading-signals' notion of stable). */
export function emaSeries(values: readonly number[], period: number): (number | null)[] {
  // Counted here rather than asked of `ema.isStable`, which answers by throwing and catching an
  // error for every unstable input (a measurable cost over 10 tickers × 600 bars × 4 EMAs).
  const ema = new EMA(period);
  return values.map((v, i) => {
    const r = ema.add(v);
    return i + 1 >= period ? r : null;
  });
}

/** Wilder RSI (0..100); first value after `period` + 1 inputs. */
export function rsiSeries(values: readonly number[], period = 14): (number | null)[] {
  const rsi = new RSI(period);
  return values.map((v) => rsi.add(v));
}

/** MACD(fast, slow, signal) on EMAs; null until the signal line has `signal` MACD values behind it. */
export function macdSeries(values: readonly number[], fast = 12, slow = 26, signal = 9): (MacdValue | null)[] {
  const macd = new MACD(new EMA(fast), new EMA(slow), new EMA(signal));
  // The signal EMA is fed one MACD value per non-null result; it is stable after `signal` of them.
  let signalInputs = 0;
  return values.map((v) => {
    const r = macd.add(v);
    if (r === null) return null;
    signalInputs++;
    return signalInputs >= signal ? { macd: r.macd, signal: r.signal, histogram: r.histogram } : null;
  });
}

/** Wilder ATR over true ranges; the first bar's true range is its high − low. */
export function atrSeries(bars: readonly HighLowClose[], period = 14): (number | null)[] {
  const atr = new ATR(period);
  return bars.map((b) => atr.add({ high: b.high, low: b.low, close: b.close }));
}

/** The last element of a series, or null for an empty one. */
export function lastOf<T>(series: readonly (T | null)[]): T | null {
  return series.length === 0 ? null : (series[series.length - 1] ?? null);
}

/** Simple return over the last `sessions` steps: v[n−1] / v[n−1−sessions] − 1; null if too short. */
export function trailingReturn(values: readonly number[], sessions: number): number | null {
  const n = values.length;
  if (n < sessions + 1) return null;
  return (values[n - 1] as number) / (values[n - 1 - sessions] as number) - 1;
}

/** Sample standard deviation (n − 1); null for fewer than two values. */
export function stdev(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const ss = xs.reduce((s, x) => s + (x - mean) ** 2, 0);
  return Math.sqrt(ss / (xs.length - 1));
}

/**
 * Annualized realized volatility: sample stdev of the last `window` daily log returns × √252.
 * Needs window + 1 prices.
 */
export function realizedVol(values: readonly number[], window = 20, periodsPerYear = 252): number | null {
  if (values.length < window + 1) return null;
  const tail = values.slice(-(window + 1));
  const logReturns = tail.slice(1).map((v, i) => Math.log(v / (tail[i] as number)));
  const sd = stdev(logReturns);
  return sd === null ? null : sd * Math.sqrt(periodsPerYear);
}

/** Highest high and lowest low of the last `window` bars; null with fewer bars than that. */
export function rangeOf(bars: readonly { high: number; low: number }[], window: number): { high: number; low: number } | null {
  if (bars.length < window || window < 1) return null;
  let high = -Infinity;
  let low = Infinity;
  for (const b of bars.slice(-window)) {
    if (b.high > high) high = b.high;
    if (b.low < low) low = b.low;
  }
  return { high, low };
}

/** Pearson correlation; null when lengths differ, fewer than 2 points, or a series is constant. */
export function correlation(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n !== ys.length || n < 2) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Correlation of daily simple returns of two dated series over their last `window` returns, aligned
 * on the dates both have (so each pair of returns spans the same two sessions). Needs window + 1
 * common dates.
 */
export function returnCorrelation(
  a: readonly { date: string; value: number }[],
  b: readonly { date: string; value: number }[],
  window = 60,
): number | null {
  const bByDate = new Map(b.map((p) => [p.date, p.value]));
  const common: [number, number][] = [];
  for (const p of a) {
    const q = bByDate.get(p.date);
    if (q !== undefined) common.push([p.value, q]);
  }
  if (common.length < window + 1) return null;
  const tail = common.slice(-(window + 1));
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 1; i < tail.length; i++) {
    const [a0, b0] = tail[i - 1] as [number, number];
    const [a1, b1] = tail[i] as [number, number];
    ra.push(a1 / a0 - 1);
    rb.push(b1 / b0 - 1);
  }
  return correlation(ra, rb);
}
