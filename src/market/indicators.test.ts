import { ATR as TiATR, EMA as TiEMA, MACD as TiMACD, RSI as TiRSI, SMA as TiSMA } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { BundledMarketData } from './bundled-market-data.js';
import {
  atrSeries,
  correlation,
  emaSeries,
  lastOf,
  macdSeries,
  rangeOf,
  realizedVol,
  returnCorrelation,
  rsiSeries,
  lastSma,
  smaSeries,
  stdev,
  trailingReturn,
} from './indicators.js';
import type { Bar } from './types.js';

const md = new BundledMarketData();

/** Relative difference, with an absolute floor so values near zero (MACD) compare sensibly. */
function relDiff(a: number, b: number, floor = 1): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), floor);
}

/** Pairs the last `count` values of two series aligned at their ends (the libraries start at different indices). */
function tailPairs<A, B>(ours: readonly (A | null)[], theirs: readonly B[], count: number): [A, B][] {
  const pairs: [A, B][] = [];
  for (let k = 1; k <= count; k++) {
    const a = ours[ours.length - k];
    const b = theirs[theirs.length - k];
    if (a === null || a === undefined || b === undefined) throw new Error(`missing value ${k} from the end`);
    pairs.push([a, b]);
  }
  return pairs;
}

const WARMUP = 300; // EMA/Wilder seeds differ between the libraries; compare after they have faded
const CHECKED = 2000;

describe.each(['SPY', 'TLT', 'USO'])('cross-check with technicalindicators on %s', (ticker) => {
  const load = async (): Promise<{ bars: Bar[]; closes: number[] }> => {
    const bars = await md.bars(ticker, '2099-12-31');
    expect(bars.length).toBeGreaterThan(WARMUP + CHECKED);
    return { bars, closes: bars.map((b) => b.close) };
  };

  it('SMA 20/50/200 agree', async () => {
    const { closes } = await load();
    for (const period of [20, 50, 200]) {
      const ours = smaSeries(closes, period);
      const theirs = TiSMA.calculate({ period, values: closes });
      expect(ours.filter((v) => v !== null).length).toBe(theirs.length);
      for (const [a, b] of tailPairs(ours, theirs, CHECKED)) expect(relDiff(a, b)).toBeLessThan(1e-9);
    }
  });

  it('EMA 20 agrees after warm-up', async () => {
    const { closes } = await load();
    const pairs = tailPairs(emaSeries(closes, 20), TiEMA.calculate({ period: 20, values: closes }), CHECKED);
    for (const [a, b] of pairs) expect(relDiff(a, b)).toBeLessThan(1e-6);
  });

  it('RSI 14 agrees within 0.01 (technicalindicators rounds to 2 decimals)', async () => {
    const { closes } = await load();
    const pairs = tailPairs(rsiSeries(closes, 14), TiRSI.calculate({ period: 14, values: closes }), CHECKED);
    for (const [a, b] of pairs) expect(Math.abs(a - b)).toBeLessThanOrEqual(0.0051);
  });

  it('MACD(12,26,9) agrees after warm-up', async () => {
    const { closes } = await load();
    const theirs = TiMACD.calculate({
      values: closes,
      fastPeriod: 12,
      slowPeriod: 26,
      signalPeriod: 9,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
    const scale = closes.at(-1) as number; // MACD crosses zero; measure error relative to the price level
    for (const [a, b] of tailPairs(macdSeries(closes), theirs, CHECKED)) {
      expect(relDiff(a.macd, b.MACD as number, scale)).toBeLessThan(1e-6);
      expect(relDiff(a.signal, b.signal as number, scale)).toBeLessThan(1e-6);
      expect(relDiff(a.histogram, b.histogram as number, scale)).toBeLessThan(1e-6);
    }
  });

  it('ATR 14 agrees after warm-up', async () => {
    const { bars } = await load();
    const theirs = TiATR.calculate({
      period: 14,
      high: bars.map((b) => b.high),
      low: bars.map((b) => b.low),
      close: bars.map((b) => b.close),
    });
    for (const [a, b] of tailPairs(atrSeries(bars, 14), theirs, CHECKED)) expect(relDiff(a, b, 1e-9)).toBeLessThan(1e-6);
  });
});

describe('warm-up: null until enough history', () => {
  const values = Array.from({ length: 60 }, (_, i) => 100 + Math.sin(i / 3) * 5 + i * 0.1);
  const firstIndex = (series: readonly unknown[]) => series.findIndex((v) => v !== null);

  it('starts each indicator at the conventional bar', () => {
    expect(firstIndex(smaSeries(values, 20))).toBe(19);
    expect(firstIndex(emaSeries(values, 20))).toBe(19);
    expect(firstIndex(rsiSeries(values, 14))).toBe(14);
    expect(firstIndex(macdSeries(values, 12, 26, 9))).toBe(33); // 26 for the slow EMA + 8 more for a 9-value signal
    const bars = values.map((c) => ({ high: c + 1, low: c - 1, close: c }));
    expect(firstIndex(atrSeries(bars, 14))).toBe(13);
  });

  it('computes SMA exactly and RSI at the extremes', () => {
    expect(lastOf(smaSeries([1, 2, 3, 4, 5], 5))).toBe(3);
    expect(lastOf(smaSeries([1, 2, 3, 4, 5], 6))).toBeNull();
    const rising = Array.from({ length: 30 }, (_, i) => 10 + i);
    expect(lastOf(rsiSeries(rising, 14))).toBe(100);
    const falling = Array.from({ length: 30 }, (_, i) => 100 - i);
    expect(lastOf(rsiSeries(falling, 14))).toBe(0);
    expect(lastOf([])).toBeNull();
  });

  it('gives the last SMA without the series, to the bit', async () => {
    const closes = (await new BundledMarketData().bars('SPY', '2024-12-31', 600)).map((b) => b.close * 1.000_37);
    for (const period of [1, 20, 50, 200, 600, 601])
      for (const n of [0, 5, 199, 200, 201, 600])
        expect(lastSma(closes.slice(0, n), period)).toBe(lastOf(smaSeries(closes.slice(0, n), period)));
  });
});

describe('returns, volatility, ranges, correlation', () => {
  it('computes trailing returns over sessions', () => {
    const v = [100, 110, 99, 121];
    expect(trailingReturn(v, 1)).toBeCloseTo(121 / 99 - 1, 12);
    expect(trailingReturn(v, 3)).toBeCloseTo(0.21, 12);
    expect(trailingReturn(v, 4)).toBeNull();
  });

  it('annualizes the sample stdev of log returns', () => {
    expect(stdev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(stdev([1])).toBeNull();
    // Alternating ±1% moves: log returns ±ln-ish, sample stdev known in closed form.
    const prices = [100];
    for (let i = 0; i < 20; i++) prices.push((prices.at(-1) as number) * (i % 2 === 0 ? 1.01 : 1 / 1.01));
    const r = Math.log(1.01);
    const expected = Math.sqrt((20 * r * r) / 19) * Math.sqrt(252); // mean 0, ten +r and ten −r
    expect(realizedVol(prices, 20)).toBeCloseTo(expected, 12);
    expect(realizedVol(prices.slice(1), 20)).toBeNull();
    expect(
      realizedVol(
        Array.from({ length: 21 }, () => 50),
        20,
      ),
    ).toBe(0);
  });

  it('takes the range of the last window bars only', () => {
    const bars = [
      { high: 50, low: 1 },
      { high: 12, low: 9 },
      { high: 15, low: 10 },
      { high: 11, low: 8 },
    ];
    expect(rangeOf(bars, 3)).toEqual({ high: 15, low: 8 });
    expect(rangeOf(bars, 4)).toEqual({ high: 50, low: 1 });
    expect(rangeOf(bars, 5)).toBeNull();
  });

  it('computes Pearson correlation', () => {
    expect(correlation([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(correlation([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 12);
    expect(correlation([1, 2, 3], [5, 5, 5])).toBeNull();
    expect(correlation([1, 2], [1, 2, 3])).toBeNull();
    expect(correlation([1, 3, 2, 5, 4], [2, 1, 4, 3, 5])).toBeCloseTo(0.3, 12); // sxy 3, sxx = syy = 10
  });

  it('aligns returns on common dates before correlating', () => {
    const dates = ['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05', '2024-01-08'];
    const a = dates.map((date, i) => ({ date, value: [100, 101, 99, 102, 103][i] as number }));
    // b lacks 2024-01-04, so returns must be taken 01-03 → 01-05 on both sides.
    const bVals: Record<string, number> = { '2024-01-02': 50, '2024-01-03': 50.5, '2024-01-05': 51, '2024-01-08': 51.5 };
    const b = Object.entries(bVals).map(([date, value]) => ({ date, value }));
    const ra = [101 / 100 - 1, 102 / 101 - 1, 103 / 102 - 1];
    const rb = [50.5 / 50 - 1, 51 / 50.5 - 1, 51.5 / 51 - 1];
    expect(returnCorrelation(a, b, 3)).toBeCloseTo(correlation(ra, rb) as number, 12);
    expect(returnCorrelation(a, b, 4)).toBeNull();
  });

  it('finds SPY and QQQ highly correlated and SPY with itself perfectly (real data)', async () => {
    const spy = (await md.bars('SPY', '2024-03-05', 61)).map((b) => ({ date: b.date, value: b.adjClose }));
    const qqq = (await md.bars('QQQ', '2024-03-05', 61)).map((b) => ({ date: b.date, value: b.adjClose }));
    expect(returnCorrelation(spy, spy, 60)).toBeCloseTo(1, 12);
    expect(returnCorrelation(qqq, spy, 60)).toBeGreaterThan(0.8);
  });
});
