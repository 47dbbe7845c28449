/**
 * The week's frozen indicator set of one account: the indicators named in its owner's monitoring plan
 * that the engine can compute, then the standard set of the position's instrument. The plan does not
 * change during the week, so neither does the set; each checkpoint reads every indicator now and at
 * the previous checkpoint (the weekly decision for the first one).
 */
import type { IndicatorReading } from '../ports/agents.js';
import type { TriggerMeasure } from '../schemas/index.js';
import type { MarketView, Measure } from './market-view.js';

export type IndicatorMeasure = Measure | 'return_since_entry';

export interface IndicatorSpec {
  name: string;
  ticker: string;
  measure: IndicatorMeasure;
}

const STANDARD: readonly [IndicatorMeasure, string][] = [
  ['price', 'price'],
  ['change_since_previous_close', 'change since previous close'],
  ['return_since_entry', 'return since entry'],
  ['rsi_14', 'RSI(14)'],
  ['macd_histogram', 'MACD(12,26,9) histogram'],
  ['realized_vol_20d', '20d realized vol'],
  ['return_1w', '1w return'],
  ['sma_20', 'SMA20'],
  ['sma_50', 'SMA50'],
];

/** The measure a monitoring-plan indicator names, when the engine can compute it. */
export function measureNamed(name: string): IndicatorMeasure | null {
  const n = name.toLowerCase();
  if (/\brsi\b/.test(n)) return 'rsi_14';
  if (/\bmacd\b/.test(n)) return 'macd_histogram';
  if (/realized vol|\bvolatility\b|\bvol\b/.test(n)) return 'realized_vol_20d';
  if (/\b1w return|\bweek(ly)? return|\b5d return/.test(n)) return 'return_1w';
  if (/return since entry|\bp\/l\b|\bpnl\b/.test(n)) return 'return_since_entry';
  if (/\bclose\b|\bprice\b|\blevel\b|distance to|\bvs\b/.test(n)) return 'price';
  return null;
}

/** The universe ticker an indicator is about: the first one its name mentions, else the position's. */
function tickerNamed(name: string, universe: readonly string[], fallback: string): string {
  const words = name.toUpperCase().split(/[^A-Z]+/);
  return words.find((w) => universe.includes(w)) ?? fallback;
}

export function indicatorSet(planNames: readonly string[], positionTicker: string, universe: readonly string[]): IndicatorSpec[] {
  const specs: IndicatorSpec[] = [];
  const covered = new Set<string>();
  const add = (spec: IndicatorSpec) => {
    const key = `${spec.ticker} ${spec.measure}`;
    // A level check ("SPY close vs SMA20 596.95") reads the price but names the level: keep each named one.
    if (covered.has(key) && spec.measure !== 'price') return;
    if (specs.some((s) => s.name === spec.name)) return;
    covered.add(key);
    specs.push(spec);
  };
  for (const name of planNames) {
    const measure = measureNamed(name);
    if (measure) add({ name, ticker: tickerNamed(name, universe, positionTicker), measure });
  }
  for (const [measure, label] of STANDARD) {
    if (covered.has(`${positionTicker} ${measure}`)) continue;
    add({ name: `${positionTicker} ${label}`, ticker: positionTicker, measure });
  }
  return specs;
}

export interface Instant {
  date: string;
  time: string;
}

/** A position's signed return since its entry at `price`. */
export function returnSinceEntry(position: { qty: number; avg_entry_price: number }, price: number): number {
  return Math.round(Math.sign(position.qty) * (price / position.avg_entry_price - 1) * 1e6) / 1e6;
}

/** One measure of a ticker at an instant; null when it cannot be computed there. */
export async function measureAt(
  view: MarketView,
  spec: { ticker: string; measure: IndicatorMeasure | TriggerMeasure },
  at: Instant,
  position: { ticker: string; qty: number; avg_entry_price: number } | null,
): Promise<number | null> {
  if (spec.measure === 'return_since_entry') {
    if (!position) return null;
    const { quote } = await view.at(position.ticker, at.date, at.time);
    return returnSinceEntry(position, quote.price);
  }
  const v = await view.at(spec.ticker, at.date, at.time);
  return v.measures[spec.measure];
}

/** Every indicator of the set now and at the previous instant; the ones that cannot be computed now are left out. */
export async function readIndicators(
  view: MarketView,
  specs: readonly IndicatorSpec[],
  now: Instant,
  previous: Instant,
  position: { ticker: string; qty: number; avg_entry_price: number } | null,
): Promise<IndicatorReading[]> {
  const readings: IndicatorReading[] = [];
  for (const spec of specs) {
    const value = await measureAt(view, spec, now, position);
    if (value === null) continue;
    readings.push({ name: spec.name, value, previous: await measureAt(view, spec, previous, position) });
  }
  return readings;
}
