/**
 * The whole-run statistics of one daily equity series (a backtest's account or a benchmark), with
 * the conventions of quantstats / empyrical so the numbers can be checked against them. Pure: the
 * caller builds the series (one point per session close, the first point being the starting equity).
 *
 * Nothing here is rounded: these feed further arithmetic (the verdict, the cross-checks), and the
 * report rounds for display.
 *
 * Definitions, over a series E_0 … E_n of n + 1 session closes in ascending date order:
 *  - r_t = E_t / E_{t−1} − 1, the simple daily return, t = 1 … n; `days` = n, the number of daily
 *    returns (so a single point has 0 days).
 *  - years = n / periodsPerYear (252 by default): a year is 252 daily returns, not the calendar span.
 *  - rf_daily = (1 + riskFreeRate)^(1 / periodsPerYear) − 1, the annual rate compounded down to one
 *    period; e_t = r_t − rf_daily.
 *  - total_return = E_n / E_0 − 1.
 *  - cagr = (E_n / E_0)^(1 / years) − 1; null with no returns.
 *  - annualized_volatility = sample stdev(r) (divisor n − 1) × √periodsPerYear; null with fewer than
 *    2 returns.
 *  - sharpe = mean(e) / sample stdev(e) × √periodsPerYear; null with fewer than 2 returns or a stdev
 *    of 0.
 *  - sortino = mean(e) / downside_deviation × √periodsPerYear, downside_deviation =
 *    √(Σ min(0, e_t)² / n): empyrical's convention, dividing by ALL n returns, not only the negative
 *    ones; null when the downside deviation is 0 (no return below the risk-free rate).
 *  - max_drawdown: the largest fall from a running peak, (peak − E_t) / peak, as a positive fraction.
 *    Its peak date is the LAST date the series stood at that peak before the fall (the day the fall
 *    began), its trough date the first date of the lowest point, its recovery date the first date
 *    after the trough with E ≥ the peak (null when the series never gets back). All three are null
 *    when max_drawdown is 0. When two falls are equally deep, the earlier one is reported.
 *  - calmar = cagr / max_drawdown; null when max_drawdown is 0 or cagr is null.
 *  - hit_rate = the share of returns > 0 among the returns ≠ 0; null when none is ≠ 0.
 *
 * Benchmarks (equalWeightBenchmark, buyAndHold) hold fractional shares, pay no costs and credit
 * whatever the closes carry: raw closes leave distributions out (like the simulated broker), adjusted
 * closes put them in.
 */

export interface EquityPoint {
  /** Session, YYYY-MM-DD. */
  date: string;
  equity: number;
}

export interface ClosePoint {
  /** Session, YYYY-MM-DD. */
  date: string;
  close: number;
}

export interface PerformanceOptions {
  /** Annual risk-free rate as a fraction (0.03 = 3%); 0 by default. */
  riskFreeRate?: number;
  /** Return periods in a year; 252 (sessions) by default. */
  periodsPerYear?: number;
}

export interface PerformanceStats {
  total_return: number;
  cagr: number | null;
  annualized_volatility: number | null;
  sharpe: number | null;
  sortino: number | null;
  max_drawdown: number;
  max_drawdown_peak_date: string | null;
  max_drawdown_trough_date: string | null;
  max_drawdown_recovery_date: string | null;
  calmar: number | null;
  hit_rate: number | null;
  /** Number of daily returns (points − 1). */
  days: number;
  first_date: string;
  last_date: string;
}

export interface Drawdown {
  max_drawdown: number;
  peak_date: string | null;
  trough_date: string | null;
  recovery_date: string | null;
}

export interface WeeklyReturn {
  /** The week-end date this return ends at (as given in weekEnds). */
  week_end: string;
  /** The series dates actually used: the last date on or before the previous and this week-end. */
  from_date: string;
  to_date: string;
  return: number;
}

export const DEFAULT_PERIODS_PER_YEAR = 252;

export function performanceStats(series: readonly EquityPoint[], options: PerformanceOptions = {}): PerformanceStats {
  assertSeries(series);
  const periodsPerYear = options.periodsPerYear ?? DEFAULT_PERIODS_PER_YEAR;
  const riskFreeRate = options.riskFreeRate ?? 0;
  if (!(Number.isFinite(periodsPerYear) && periodsPerYear > 0)) throw new Error(`periodsPerYear must be > 0, got ${periodsPerYear}`);
  if (!(Number.isFinite(riskFreeRate) && riskFreeRate > -1)) throw new Error(`riskFreeRate must be > −1, got ${riskFreeRate}`);

  const first = series[0] as EquityPoint;
  const last = series.at(-1) as EquityPoint;
  const returns = dailyReturns(series);
  const n = returns.length;
  const rfDaily = (1 + riskFreeRate) ** (1 / periodsPerYear) - 1;
  const excess = returns.map((r) => r - rfDaily);
  const annualizer = Math.sqrt(periodsPerYear);

  const growth = last.equity / first.equity;
  const cagr = n === 0 ? null : growth ** (periodsPerYear / n) - 1;
  const stdevReturns = sampleStdev(returns);
  const stdevExcess = sampleStdev(excess);
  const downside = downsideDeviation(excess);
  const drawdown = maxDrawdownOf(series);
  const moved = returns.filter((r) => r !== 0);

  return {
    total_return: growth - 1,
    cagr,
    annualized_volatility: stdevReturns === null ? null : stdevReturns * annualizer,
    sharpe: stdevExcess === null || stdevExcess === 0 ? null : (mean(excess) / stdevExcess) * annualizer,
    sortino: downside === null || downside === 0 ? null : (mean(excess) / downside) * annualizer,
    max_drawdown: drawdown.max_drawdown,
    max_drawdown_peak_date: drawdown.peak_date,
    max_drawdown_trough_date: drawdown.trough_date,
    max_drawdown_recovery_date: drawdown.recovery_date,
    calmar: cagr === null || drawdown.max_drawdown === 0 ? null : cagr / drawdown.max_drawdown,
    hit_rate: moved.length === 0 ? null : moved.filter((r) => r > 0).length / moved.length,
    days: n,
    first_date: first.date,
    last_date: last.date,
  };
}

/** r_t = E_t / E_{t−1} − 1 for t = 1 … n. */
export function dailyReturns(series: readonly EquityPoint[]): number[] {
  return series.slice(1).map((p, i) => p.equity / (series[i] as EquityPoint).equity - 1);
}

/** Largest fall from a running peak, with its dates (see the header for the tie rules). */
export function maxDrawdownOf(series: readonly EquityPoint[]): Drawdown {
  let peak: EquityPoint | null = null;
  let worst: { depth: number; peak: EquityPoint; trough: EquityPoint } | null = null;
  for (const point of series) {
    // `>=` moves the peak's date forward over a flat top, so the peak date is the day the fall began.
    if (peak === null || point.equity >= peak.equity) peak = point;
    const depth = (peak.equity - point.equity) / peak.equity;
    // Strictly deeper only: an equally deep later fall does not replace the first one.
    if (depth > 0 && (worst === null || depth > worst.depth)) worst = { depth, peak, trough: point };
  }
  if (worst === null) return { max_drawdown: 0, peak_date: null, trough_date: null, recovery_date: null };
  const { depth, peak: top, trough } = worst;
  const recovery = series.find((p) => p.date > trough.date && p.equity >= top.equity) ?? null;
  return { max_drawdown: depth, peak_date: top.date, trough_date: trough.date, recovery_date: recovery?.date ?? null };
}

/**
 * The return of each week, from the previous week-end to this one, one per consecutive pair of
 * `weekEnds` (so weekEnds.length − 1 of them; the first week-end is only the starting mark).
 *
 * A week-end date missing from the series (a holiday Friday, or a week-end past the series' last
 * session) is marked at the last series date on or before it. So a week with no session at all
 * returns 0 (both ends fall on the same date), and week-ends past the series' end return 0. A
 * week-end before the series' first date has no equity and is an error.
 */
export function weeklyReturns(series: readonly EquityPoint[], weekEnds: readonly string[]): WeeklyReturn[] {
  assertSeries(series);
  assertAscending(weekEnds, 'weekEnds');
  const marks = weekEnds.map((weekEnd) => {
    const point = lastOnOrBefore(series, weekEnd);
    if (!point) throw new Error(`week-end ${weekEnd} is before the series' first date ${(series[0] as EquityPoint).date}`);
    return point;
  });
  return marks.slice(1).map((to, i) => {
    const from = marks[i] as EquityPoint;
    return { week_end: weekEnds[i + 1] as string, from_date: from.date, to_date: to.date, return: to.equity / from.equity - 1 };
  });
}

/**
 * An equal-weight portfolio of the universe, rebalanced to equal weights at every close: its daily
 * return is the plain mean of the tickers' close-to-close returns. It runs on the dates where EVERY
 * ticker has a close (a date missing for one ticker is skipped for all, so the next return spans the
 * gap for all of them), starting at `startingEquity` on the first such date.
 */
export function equalWeightBenchmark(closes: ReadonlyMap<string, readonly ClosePoint[]>, startingEquity: number): EquityPoint[] {
  assertStartingEquity(startingEquity);
  if (closes.size === 0) throw new Error('an equal-weight benchmark needs at least one ticker');
  const byTicker = [...closes].map(([ticker, points]) => closeIndex(ticker, points));
  const common = [...(byTicker[0] as Map<string, number>).keys()].filter((date) => byTicker.every((index) => index.has(date))).sort();
  if (common.length === 0) throw new Error('the tickers share no date with a close');

  const series: EquityPoint[] = [{ date: common[0] as string, equity: startingEquity }];
  for (let t = 1; t < common.length; t++) {
    const today = common[t] as string;
    const yesterday = common[t - 1] as string;
    const meanReturn = mean(byTicker.map((index) => (index.get(today) as number) / (index.get(yesterday) as number) - 1));
    series.push({ date: today, equity: (series[t - 1] as EquityPoint).equity * (1 + meanReturn) });
  }
  return series;
}

/** One ticker bought at the first close with all of startingEquity and held: E_t = E_0 × close_t / close_0. */
export function buyAndHold(closes: readonly ClosePoint[], startingEquity: number): EquityPoint[] {
  assertStartingEquity(startingEquity);
  const index = closeIndex('the ticker', closes);
  const dates = [...index.keys()].sort();
  const firstDate = dates[0];
  if (firstDate === undefined) throw new Error('buy-and-hold needs at least one close');
  const firstClose = index.get(firstDate) as number;
  return dates.map((date) => ({ date, equity: (startingEquity * (index.get(date) as number)) / firstClose }));
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/**
 * Sample standard deviation (divisor n − 1); null with fewer than 2 values. Identical values give
 * exactly 0: their floating mean can differ from them in the last bit, and the spurious tiny stdev
 * would turn a flat series into an enormous Sharpe.
 */
export function sampleStdev(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  if (xs.every((x) => x === xs[0])) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** √(Σ min(0, x)² / n) over all n values (empyrical); null with no values. */
export function downsideDeviation(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  return Math.sqrt(xs.reduce((s, x) => s + Math.min(0, x) ** 2, 0) / xs.length);
}

function lastOnOrBefore(series: readonly EquityPoint[], date: string): EquityPoint | undefined {
  let found: EquityPoint | undefined;
  for (const point of series) {
    if (point.date > date) break;
    found = point;
  }
  return found;
}

/** date → close for one ticker, refusing duplicates and prices that would make returns meaningless. */
function closeIndex(ticker: string, points: readonly ClosePoint[]): Map<string, number> {
  const index = new Map<string, number>();
  for (const { date, close } of points) {
    if (index.has(date)) throw new Error(`${ticker} has two closes on ${date}`);
    if (!(Number.isFinite(close) && close > 0)) throw new Error(`${ticker}'s close on ${date} is ${close}, not a positive price`);
    index.set(date, close);
  }
  return index;
}

function assertSeries(series: readonly EquityPoint[]): void {
  if (series.length === 0) throw new Error('an equity series needs at least one point');
  assertAscending(
    series.map((p) => p.date),
    'the equity series',
  );
  // A return out of zero or negative equity is undefined; a paper account that got there needs a
  // different measure than these ratios.
  for (const p of series)
    if (!(Number.isFinite(p.equity) && p.equity > 0)) throw new Error(`equity on ${p.date} is ${p.equity}, not positive`);
}

function assertAscending(dates: readonly string[], what: string): void {
  dates.forEach((date, i) => {
    if (i > 0 && !(date > (dates[i - 1] as string))) throw new Error(`${what} is not in strictly ascending date order at ${date}`);
  });
}

function assertStartingEquity(startingEquity: number): void {
  if (!(Number.isFinite(startingEquity) && startingEquity > 0)) throw new Error(`starting equity must be positive, got ${startingEquity}`);
}
