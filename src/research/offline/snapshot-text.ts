/**
 * Formatting and lookup helpers shared by the offline researcher and the offline PMs.
 *
 * Every number an offline agent writes comes through these functions, so texts cite the snapshot's
 * values in one consistent notation (ASCII '-' for negatives, fixed decimals via toFixed: no locale,
 * hence byte-identical output on every machine).
 */
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';

/** Code-unit string order: unlike localeCompare it cannot vary with the machine's ICU/locale. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Signed percentage of a fraction: 0.0437 → "+4.4%", -0.0152 → "-1.5%", null → "n/a". */
export function signedPct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const text = (x * 100).toFixed(digits);
  if (Number(text) === 0) return `${(0).toFixed(digits)}%`; // never "-0.0%"
  return `${x > 0 ? '+' : ''}${text}%`;
}

/** Unsigned percentage of a fraction: 0.1214 → "12.1%". */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const text = (Math.abs(x) * 100).toFixed(digits);
  return `${text}%`;
}

/** A price level with two decimals. */
export function price(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toFixed(2);
}

/** A plain number with fixed decimals ("-0.92"), normalising negative zero. */
export function num(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const text = x.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** A signed number with fixed decimals ("+0.75"). */
export function signedNum(x: number | null | undefined, digits = 2): string {
  const text = num(x, digits);
  if (text === 'n/a' || text.startsWith('-') || Number(text) === 0) return text;
  return `+${text}`;
}

/** RSI as the snapshot's readers expect it: one decimal. */
export function rsi(x: number | null | undefined): string {
  return num(x, 1);
}

/** Round a level to cents, the precision at which key levels are published. */
export function cents(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The 52-week high implied by the snapshot's close and distance from the high (null if unknown). */
export function high52(a: AssetSnapshot): number | null {
  if (a.pct_from_52w_high === null || a.pct_from_52w_high <= -1) return null;
  return cents(a.last_close / (1 + a.pct_from_52w_high));
}

/** The 52-week low implied by the snapshot's close and distance from the low (null if unknown). */
export function low52(a: AssetSnapshot): number | null {
  if (a.pct_from_52w_low === null || a.pct_from_52w_low <= -1) return null;
  return cents(a.last_close / (1 + a.pct_from_52w_low));
}

/** A named price level taken from the snapshot (never invented). */
export interface Level {
  name: string;
  value: number;
}

/** SMA20/50/200 and the 52-week high/low of an asset, skipping unknown ones. */
export function snapshotLevels(a: AssetSnapshot): Level[] {
  const levels: Level[] = [];
  const push = (name: string, value: number | null): void => {
    if (value !== null && Number.isFinite(value)) levels.push({ name, value: cents(value) });
  };
  push('SMA20', a.sma_20);
  push('SMA50', a.sma_50);
  push('SMA200', a.sma_200);
  push('52w high', high52(a));
  push('52w low', low52(a));
  return levels;
}

/** Nearest snapshot level strictly above the close (resistance), or null. */
export function levelAbove(a: AssetSnapshot, levels: readonly Level[] = snapshotLevels(a)): Level | null {
  const above = levels.filter((l) => l.value > a.last_close).sort((x, y) => x.value - y.value || byText(x.name, y.name));
  return above[0] ?? null;
}

/** Nearest snapshot level strictly below the close (support), or null. */
export function levelBelow(a: AssetSnapshot, levels: readonly Level[] = snapshotLevels(a)): Level | null {
  const below = levels.filter((l) => l.value < a.last_close).sort((x, y) => y.value - x.value || byText(x.name, y.name));
  return below[0] ?? null;
}

/** Distance of a level from the close as a signed fraction (level / close − 1). */
export function distance(a: AssetSnapshot, level: number): number {
  return level / a.last_close - 1;
}

/** The snapshot's assets by ticker. */
export function assetsByTicker(snapshot: MarketSnapshot): Map<string, AssetSnapshot> {
  return new Map(snapshot.assets.map((a) => [a.ticker, a]));
}

/** Short 'close / returns / RSI' description used in several texts. */
export function quickFacts(a: AssetSnapshot): string {
  return `${a.ticker} ${price(a.last_close)}, 1m ${signedPct(a.returns.m1)}, RSI ${rsi(a.rsi_14)}`;
}
