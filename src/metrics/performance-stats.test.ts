import { describe, expect, it } from 'vitest';
import { buyAndHold, equalWeightBenchmark, maxDrawdownOf, performanceStats, weeklyReturns, type EquityPoint } from './performance-stats.js';

// Every expected number below is computed by hand in the comment next to it.

const series = (dates: readonly string[], equities: readonly number[]): EquityPoint[] =>
  equities.map((equity, i) => ({ date: dates[i] as string, equity }));

const D = ['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05', '2024-01-08', '2024-01-09', '2024-01-10'];

describe('performanceStats on a hand-computed series', () => {
  // Equity 100, 110, 99, 108.9: returns r = 0.1, −0.1, 0.1 (n = 3).
  //   mean = 0.1 / 3 = 1/30.
  //   deviations: 0.1 − 1/30 = 1/15, −0.1 − 1/30 = −2/15, 1/15; Σ squares = (1 + 4 + 1)/225 = 2/75.
  //   sample variance = (2/75) / (3 − 1) = 1/75; stdev = 1/√75.
  //   sharpe = (1/30) × √75 × √252 = √(75 × 252) / 30 = √18900 / 30 = √21 (18900 / 900 = 21).
  //   vol = √252 / √75 = √3.36.
  //   downside: only −0.1 is below 0: √(0.01 / 3); sortino = (1/30) / √(0.01/3) × √252
  //     = (1/30) × √300 × √252 = √75600 / 30 = √84 (75600 / 900 = 84).
  //   total return = 108.9/100 − 1 = 0.089; cagr = 1.089^(252/3) − 1 = 1.089^84 − 1.
  //   drawdown: peak 110 (01-03), trough 99 (01-04): 11/110 = 0.1; 108.9 < 110, no recovery.
  //   calmar = (1.089^84 − 1) / 0.1; hit rate = 2 gains / 3 moves.
  const stats = performanceStats(series(D, [100, 110, 99, 108.9]));

  it('computes the return statistics', () => {
    expect(stats.total_return).toBeCloseTo(0.089, 10);
    expect(stats.cagr).toBeCloseTo(1.089 ** 84 - 1, 10);
    expect(stats.annualized_volatility).toBeCloseTo(Math.sqrt(3.36), 10);
    expect(stats.sharpe).toBeCloseTo(Math.sqrt(21), 10);
    expect(stats.sortino).toBeCloseTo(Math.sqrt(84), 10);
    expect(stats.hit_rate).toBeCloseTo(2 / 3, 10);
    expect(stats.days).toBe(3);
    expect(stats.first_date).toBe('2024-01-02');
    expect(stats.last_date).toBe('2024-01-05');
  });

  it('computes the drawdown, its dates and the calmar ratio', () => {
    expect(stats.max_drawdown).toBeCloseTo(0.1, 10);
    expect(stats.max_drawdown_peak_date).toBe('2024-01-03');
    expect(stats.max_drawdown_trough_date).toBe('2024-01-04');
    expect(stats.max_drawdown_recovery_date).toBeNull();
    expect(stats.calmar).toBeCloseTo((1.089 ** 84 - 1) / 0.1, 8);
  });

  it('subtracts the risk-free rate compounded down to a day', () => {
    // rf = 5%: rf_daily = 1.05^(1/252) − 1. The excess returns have the same stdev (1/√75), so
    // sharpe = (1/30 − rf_daily) × √75 × √252 = (1/30 − rf_daily) × 30√21.
    // Downside: e = 0.1 − rf_daily, −0.1 − rf_daily, 0.1 − rf_daily; only the middle one is < 0:
    // sortino = (1/30 − rf_daily) / √((0.1 + rf_daily)² / 3) × √252.
    const rfDaily = 1.05 ** (1 / 252) - 1;
    const withRf = performanceStats(series(D, [100, 110, 99, 108.9]), { riskFreeRate: 0.05 });
    expect(withRf.sharpe).toBeCloseTo((1 / 30 - rfDaily) * 30 * Math.sqrt(21), 10);
    expect(withRf.sortino).toBeCloseTo(((1 / 30 - rfDaily) / Math.sqrt((0.1 + rfDaily) ** 2 / 3)) * Math.sqrt(252), 10);
    // Volatility and CAGR do not involve the risk-free rate.
    expect(withRf.annualized_volatility).toBeCloseTo(Math.sqrt(3.36), 10);
    expect(withRf.cagr).toBeCloseTo(1.089 ** 84 - 1, 10);
  });

  it('annualizes with periodsPerYear', () => {
    // Weekly periods: sharpe = √(75 × 52) / 30, vol = √(52/75), cagr = 1.089^(52/3) − 1.
    const weekly = performanceStats(series(D, [100, 110, 99, 108.9]), { periodsPerYear: 52 });
    expect(weekly.sharpe).toBeCloseTo(Math.sqrt(75 * 52) / 30, 10);
    expect(weekly.annualized_volatility).toBeCloseTo(Math.sqrt(52 / 75), 10);
    expect(weekly.cagr).toBeCloseTo(1.089 ** (52 / 3) - 1, 10);
  });
});

describe('max drawdown', () => {
  it('finds the recovery: the first date back at or above the peak', () => {
    // 100, 110, 99, 110, 120: peak 110 on 01-03, trough 99 on 01-04 (0.1), back to exactly 110 on 01-05.
    const dd = maxDrawdownOf(series(D, [100, 110, 99, 110, 120]));
    expect(dd.max_drawdown).toBeCloseTo(0.1, 12);
    expect(dd).toMatchObject({ peak_date: '2024-01-03', trough_date: '2024-01-04', recovery_date: '2024-01-05' });
  });

  it('dates the peak at the last day of a flat top, and keeps the deepest of several falls', () => {
    // 100, 120, 120, 108, 125, 100, 90: falls 12/120 = 0.1 (peak 01-04, the later of the two 120s)
    // and 35/125 = 0.28 (peak 01-08, trough 01-10 at 90), never recovered.
    const dd = maxDrawdownOf(series(D, [100, 120, 120, 108, 125, 100, 90]));
    expect(dd.max_drawdown).toBeCloseTo(0.28, 12);
    expect(dd).toMatchObject({ peak_date: '2024-01-08', trough_date: '2024-01-10', recovery_date: null });
    const flatTop = maxDrawdownOf(series(D, [100, 120, 120, 108]));
    expect(flatTop).toMatchObject({ peak_date: '2024-01-04', trough_date: '2024-01-05' });
  });

  it('reports the earlier of two equally deep falls', () => {
    // 100, 90, 100, 90: both falls are 10/100; the first (peak 01-02, trough 01-03, recovery 01-04) stays.
    const dd = maxDrawdownOf(series(D, [100, 90, 100, 90]));
    expect(dd).toMatchObject({ max_drawdown: 0.1, peak_date: '2024-01-02', trough_date: '2024-01-03', recovery_date: '2024-01-04' });
  });
});

describe('degenerate series', () => {
  it('a flat series: every ratio whose denominator is 0 is null', () => {
    // Returns 0, 0, 0: stdev 0 → vol 0, sharpe null; no return below 0 → sortino null; no drawdown →
    // calmar null; no move → hit rate null; cagr = 1^84 − 1 = 0.
    const flat = performanceStats(series(D, [100, 100, 100, 100]));
    expect(flat).toEqual({
      total_return: 0,
      cagr: 0,
      annualized_volatility: 0,
      sharpe: null,
      sortino: null,
      max_drawdown: 0,
      max_drawdown_peak_date: null,
      max_drawdown_trough_date: null,
      max_drawdown_recovery_date: null,
      calmar: null,
      hit_rate: null,
      days: 3,
      first_date: '2024-01-02',
      last_date: '2024-01-05',
    });
  });

  it('a flat series with a risk-free rate: constant excess returns still give no sharpe', () => {
    // e_t = −rf_daily every day: stdev exactly 0 (not a floating remainder), so sharpe is null;
    // every e_t < 0, so the downside deviation is rf_daily and sortino = −rf_daily / rf_daily × √252 = −√252.
    const flat = performanceStats(series(D, [100, 100, 100, 100]), { riskFreeRate: 0.04 });
    expect(flat.sharpe).toBeNull();
    expect(flat.sortino).toBeCloseTo(-Math.sqrt(252), 10);
  });

  it('a single point has no returns', () => {
    const one = performanceStats(series(D, [100]));
    expect(one).toEqual({
      total_return: 0,
      cagr: null,
      annualized_volatility: null,
      sharpe: null,
      sortino: null,
      max_drawdown: 0,
      max_drawdown_peak_date: null,
      max_drawdown_trough_date: null,
      max_drawdown_recovery_date: null,
      calmar: null,
      hit_rate: null,
      days: 0,
      first_date: '2024-01-02',
      last_date: '2024-01-02',
    });
  });

  it('two points: one return, so no sample stdev', () => {
    // r = 0.02; sortino: no return below 0 → null; cagr = 1.02^252 − 1.
    const two = performanceStats(series(D, [100, 102]));
    expect(two.annualized_volatility).toBeNull();
    expect(two.sharpe).toBeNull();
    expect(two.sortino).toBeNull();
    expect(two.cagr).toBeCloseTo(1.02 ** 252 - 1, 6);
    expect(two.hit_rate).toBe(1);
  });

  it('refuses empty, unordered or non-positive series', () => {
    expect(() => performanceStats([])).toThrow(/at least one point/);
    expect(() => performanceStats(series(['2024-01-03', '2024-01-02'], [100, 101]))).toThrow(/ascending/);
    expect(() => performanceStats(series(['2024-01-02', '2024-01-02'], [100, 101]))).toThrow(/ascending/);
    expect(() => performanceStats(series(D, [100, 0]))).toThrow(/not positive/);
    expect(() => performanceStats(series(D, [100, Number.NaN]))).toThrow(/not positive/);
  });
});

describe('cross-check against an independent implementation', () => {
  // A 500-day pseudo-random series from a fixed LCG (Numerical Recipes constants), returns in about
  // ±2%. The reference below is written differently on purpose: Welford's online variance instead of
  // two passes, the CAGR through summed log returns instead of the end ratio, the daily risk-free
  // rate through log1p/exp, and the downside sum over the negative excess returns only.
  const lcg = (seed: number) => {
    let state = seed >>> 0;
    return () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  };
  const rand = lcg(20240102);
  const equities = [1_000_000];
  for (let i = 0; i < 500; i++) equities.push((equities.at(-1) as number) * (1 + (rand() - 0.48) * 0.04));
  const dates = equities.map((_, i) => new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10));
  const path = series(dates, equities);

  function reference(rf: number) {
    const r: number[] = [];
    for (let i = 1; i < equities.length; i++) r.push(((equities[i] as number) - (equities[i - 1] as number)) / (equities[i - 1] as number));
    const rfDaily = Math.exp(Math.log1p(rf) / 252) - 1;
    let count = 0;
    let m = 0;
    let m2 = 0;
    for (const x of r.map((v) => v - rfDaily)) {
      count += 1;
      const delta = x - m;
      m += delta / count;
      m2 += delta * (x - m);
    }
    let rm = 0;
    let rm2 = 0;
    r.forEach((x, i) => {
      const delta = x - rm;
      rm += delta / (i + 1);
      rm2 += delta * (x - rm);
    });
    const negatives = r.map((v) => v - rfDaily).filter((v) => v < 0);
    const downside = Math.sqrt(negatives.reduce((s, v) => s + v * v, 0) / r.length);
    const logGrowth = r.reduce((s, v) => s + Math.log1p(v), 0);
    return {
      sharpe: (m / Math.sqrt(m2 / (count - 1))) * Math.sqrt(252),
      sortino: (m / downside) * Math.sqrt(252),
      vol: Math.sqrt(rm2 / (r.length - 1)) * Math.sqrt(252),
      cagr: Math.expm1((logGrowth * 252) / r.length),
    };
  }

  for (const rf of [0, 0.035]) {
    it(`agrees to 1e-12 with rf = ${rf}`, () => {
      const stats = performanceStats(path, { riskFreeRate: rf });
      const ref = reference(rf);
      expect(stats.days).toBe(500);
      expect(Math.abs((stats.sharpe as number) - ref.sharpe)).toBeLessThan(1e-12);
      expect(Math.abs((stats.sortino as number) - ref.sortino)).toBeLessThan(1e-12);
      expect(Math.abs((stats.annualized_volatility as number) - ref.vol)).toBeLessThan(1e-12);
      expect(Math.abs((stats.cagr as number) - ref.cagr)).toBeLessThan(1e-12);
    });
  }
});

describe('weeklyReturns', () => {
  // Sessions Thu 01-04 … Wed 01-17; Friday 01-12 is missing (as if a holiday).
  const daily = series(
    ['2024-01-04', '2024-01-05', '2024-01-08', '2024-01-09', '2024-01-10', '2024-01-11', '2024-01-16', '2024-01-17'],
    [100, 104, 103, 105, 107, 110, 111, 99],
  );

  it('takes the return between consecutive week-ends, marking a missing week-end at the last date before it', () => {
    // 01-05 (104) → 01-12, missing, marked at 01-11 (110): 110/104 − 1.
    // 01-12 (110 at 01-11) → 01-19, past the end, marked at 01-17 (99): 99/110 − 1 = −0.1.
    const weeks = weeklyReturns(daily, ['2024-01-05', '2024-01-12', '2024-01-19']);
    expect(weeks.map((w) => [w.week_end, w.from_date, w.to_date])).toEqual([
      ['2024-01-12', '2024-01-05', '2024-01-11'],
      ['2024-01-19', '2024-01-11', '2024-01-17'],
    ]);
    expect(weeks[0]?.return).toBeCloseTo(110 / 104 - 1, 12);
    expect(weeks[1]?.return).toBeCloseTo(-0.1, 12);
  });

  it('a week with no session returns 0, a week-end before the series is an error', () => {
    // 01-13 and 01-14 (a weekend) both mark at 01-11.
    const weeks = weeklyReturns(daily, ['2024-01-11', '2024-01-13', '2024-01-14']);
    expect(weeks.map((w) => w.return)).toEqual([0, 0]);
    expect(() => weeklyReturns(daily, ['2024-01-03', '2024-01-05'])).toThrow(/before the series/);
    expect(() => weeklyReturns(daily, ['2024-01-12', '2024-01-05'])).toThrow(/ascending/);
    expect(weeklyReturns(daily, ['2024-01-05'])).toEqual([]);
  });
});

describe('benchmarks', () => {
  it('buy-and-hold scales the closes to the starting equity', () => {
    // 10 000 × close / 50: 10 000, 11 000, 9 000 (closes given out of order on purpose).
    const bh = buyAndHold(
      [
        { date: '2024-01-03', close: 55 },
        { date: '2024-01-02', close: 50 },
        { date: '2024-01-04', close: 45 },
      ],
      10_000,
    );
    expect(bh).toEqual([
      { date: '2024-01-02', equity: 10_000 },
      { date: '2024-01-03', equity: 11_000 },
      { date: '2024-01-04', equity: 9_000 },
    ]);
  });

  it('equal weight rebalances daily: the daily return is the mean of the tickers’ returns', () => {
    // A: 100 → 110 → 99 (+10%, −10%); B: 50 → 50 → 55 (0%, +10%).
    const closes = new Map([
      [
        'A',
        [
          { date: '2024-01-02', close: 100 },
          { date: '2024-01-03', close: 110 },
          { date: '2024-01-04', close: 99 },
        ],
      ],
      [
        'B',
        [
          { date: '2024-01-02', close: 50 },
          { date: '2024-01-03', close: 50 },
          { date: '2024-01-04', close: 55 },
        ],
      ],
    ]);
    // Day 1: mean(0.1, 0) = 0.05 → 1 050; day 2: mean(−0.1, 0.1) = 0 → 1 050. (Buy-and-hold of the
    // same 50/50 would end at 500 × 0.99 + 500 × 1.1 = 1 045: the rebalance is what makes it 1 050.)
    const ew = equalWeightBenchmark(closes, 1_000);
    expect(ew.map((p) => p.date)).toEqual(['2024-01-02', '2024-01-03', '2024-01-04']);
    expect(ew[1]?.equity).toBeCloseTo(1_050, 10);
    expect(ew[2]?.equity).toBeCloseTo(1_050, 10);
  });

  it('equal weight runs on the dates every ticker has', () => {
    // A: 100, 110, 121 on 01-02/03/04; B: 10 on 01-02, 12 on 01-04 (no 01-03). Common dates 01-02, 01-04:
    // mean(121/100 − 1, 12/10 − 1) = mean(0.21, 0.2) = 0.205 → 2 000 × 1.205 = 2 410.
    const closes = new Map([
      [
        'A',
        [
          { date: '2024-01-02', close: 100 },
          { date: '2024-01-03', close: 110 },
          { date: '2024-01-04', close: 121 },
        ],
      ],
      [
        'B',
        [
          { date: '2024-01-04', close: 12 },
          { date: '2024-01-02', close: 10 },
        ],
      ],
    ]);
    const ew = equalWeightBenchmark(closes, 2_000);
    expect(ew.map((p) => p.date)).toEqual(['2024-01-02', '2024-01-04']);
    expect(ew[1]?.equity).toBeCloseTo(2_410, 10);
  });

  it('refuses no tickers, no common date, duplicate dates and bad prices', () => {
    expect(() => equalWeightBenchmark(new Map(), 1_000)).toThrow(/at least one ticker/);
    const disjoint = new Map([
      ['A', [{ date: '2024-01-02', close: 1 }]],
      ['B', [{ date: '2024-01-03', close: 1 }]],
    ]);
    expect(() => equalWeightBenchmark(disjoint, 1_000)).toThrow(/share no date/);
    const dup = [
      { date: '2024-01-02', close: 1 },
      { date: '2024-01-02', close: 2 },
    ];
    expect(() => buyAndHold(dup, 1_000)).toThrow(/two closes/);
    expect(() => buyAndHold([{ date: '2024-01-02', close: 0 }], 1_000)).toThrow(/positive price/);
    expect(() => buyAndHold([], 1_000)).toThrow(/at least one close/);
    expect(() => buyAndHold([{ date: '2024-01-02', close: 1 }], 0)).toThrow(/starting equity/);
  });
});
