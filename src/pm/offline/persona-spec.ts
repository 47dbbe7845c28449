/**
 * What a quant persona is: a scoring function over the snapshot, a selection rule, and the persona's
 * way of stating invalidation and what to monitor. Everything else (ranking, buckets, conviction,
 * the pitch document) is shared, so personas differ only where their styles really differ.
 */
import type { MarketSnapshot } from '../../market/types.js';
import type { MacroRegime } from '../../research/offline/regime.js';
import {
  type Level,
  distance,
  levelAbove,
  levelBelow,
  price,
  signedPct,
  snapshotLevels,
  cents,
} from '../../research/offline/snapshot-text.js';
import type { Direction, Horizon, InvalidationTrigger, PmPitch } from '../../schemas/index.js';
import type { Features } from './features.js';

export const PERSONA_NAMES = ['trend', 'mean-reversion', 'macro-regime', 'defensive-carry', 'contrarian'] as const;
export type PersonaName = (typeof PERSONA_NAMES)[number];

export function isPersonaName(name: string): name is PersonaName {
  return (PERSONA_NAMES as readonly string[]).includes(name);
}

export type KeyIndicator = PmPitch['monitoring_plan']['key_indicators'][number];

export interface PersonaEnv {
  regime: MacroRegime;
  snapshot: MarketSnapshot;
  /** Features of every snapshot asset, by ticker. */
  features: ReadonlyMap<string, Features>;
}

/** One universe ticker with the persona's score (higher = more attractive to own) and why. */
export interface Scored {
  ticker: string;
  score: number;
  reason: string;
  /** null when the snapshot has no data for the ticker (scored neutral). */
  f: Features | null;
}

export interface Selection {
  ticker: string;
  /** LONG or SHORT when the persona wants a position; FLAT to stay in cash. */
  direction: Direction;
  /** The rule that chose it, citing numbers. */
  why: string;
}

export interface PersonaSpec {
  name: PersonaName;
  /** One line for the README and the pitch's self-description. */
  description: string;
  horizon: Horizon;
  score(f: Features, env: PersonaEnv): { score: number; reason: string };
  /** Choose the trade from the ranking (best first). */
  select(ranked: readonly Scored[], env: PersonaEnv): Selection;
  /** A concrete price/indicator condition that kills the trade this week (LONG or SHORT). */
  invalidation(f: Features, direction: Direction, env: PersonaEnv): string;
  /** The invalidation's main condition in machine-checkable form (the engine evaluates it at checkpoints). */
  trigger(f: Features, direction: Direction, env: PersonaEnv): InvalidationTrigger;
  /** When the persona chose FLAT: the condition that would prove cash wrong (default: a breakout). */
  flatInvalidation?(f: Features, env: PersonaEnv): string;
  /** What to watch at each checkpoint (the shared builder caps the list at 8). */
  indicators(f: Features, direction: Direction, env: PersonaEnv): KeyIndicator[];
}

/** Minimum |score| for any position; below it the persona stays FLAT. */
export const MIN_POSITION_SCORE = 0.15;
/** |score| from which conviction is 2. */
export const HIGH_CONVICTION_SCORE = 0.5;

/** The default rule: own the top-ranked ticker if its score clears the bar, else stay FLAT. */
export function topOrFlat(ranked: readonly Scored[], label: string): Selection {
  const top = ranked[0];
  if (!top) throw new Error('cannot select from an empty ranking');
  if (top.score < MIN_POSITION_SCORE) {
    return {
      ticker: top.ticker,
      direction: 'FLAT',
      why: `Best ${label} score is ${top.ticker} at ${top.score.toFixed(2)}, below the ${MIN_POSITION_SCORE.toFixed(2)} bar: stay in cash.`,
    };
  }
  return { ticker: top.ticker, direction: 'LONG', why: `${top.ticker} has the best ${label} score, ${top.score.toFixed(2)}.` };
}

/**
 * A stop level for a position: the nearest of the given snapshot levels on the losing side of the
 * close, else `atrMult` ATRs away (still a number derived from the snapshot, never invented).
 */
export function stopLevel(f: Features, direction: Direction, names: readonly string[], atrMult: number): Level {
  const a = f.asset;
  const levels = snapshotLevels(a).filter((l) => names.includes(l.name));
  const found = direction === 'SHORT' ? levelAbove(a, levels) : levelBelow(a, levels);
  if (found) return found;
  const atr = a.atr_14 ?? a.last_close * 0.01;
  const value = cents(direction === 'SHORT' ? a.last_close + atrMult * atr : a.last_close - atrMult * atr);
  return { name: `${atrMult} ATR stop`, value };
}

/** "SMA20" reads as a name; "52w low" and "2 ATR stop" read better with an article. */
export function levelName(level: Level): string {
  return /^\d/.test(level.name) ? `the ${level.name}` : level.name;
}

/** The stop as a trigger: the price through the level, on the losing side of the position. */
export function priceTrigger(f: Features, direction: Direction, level: Level): InvalidationTrigger {
  return { ticker: f.ticker, measure: 'price', op: direction === 'SHORT' ? 'above' : 'below', value: level.value };
}

/** "SPY closes below SMA20 at 596.95 (-1.6% from the 606.78 close)". */
export function stopText(f: Features, direction: Direction, level: Level): string {
  const side = direction === 'SHORT' ? 'above' : 'below';
  return `${f.ticker} closes ${side} ${levelName(level)} at ${price(level.value)} (${signedPct(distance(f.asset, level.value))} from the ${price(f.close)} close)`;
}

/** Indicator: the close against a level. */
export function closeVsLevel(f: Features, direction: Direction, level: Level): KeyIndicator {
  const keepSide = direction === 'SHORT' ? 'below' : 'above';
  const flipSide = direction === 'SHORT' ? 'above' : 'below';
  return {
    name: `${f.ticker} close vs ${level.name} ${price(level.value)}`,
    expected_signal: `price stays ${keepSide} ${price(level.value)} (now ${price(f.close)})`,
    flip_condition: `close ${flipSide} ${price(level.value)}`,
  };
}

/** Indicator: RSI(14) on the right side of 50 (or of a stretched threshold for reversion trades). */
export function rsiIndicator(f: Features, direction: Direction, flipAt: number): KeyIndicator {
  const now = f.rsi === null ? 'n/a' : f.rsi.toFixed(1);
  const up = direction !== 'SHORT';
  return {
    name: `${f.ticker} RSI(14)`,
    expected_signal: up ? `holds above ${flipAt} (now ${now})` : `holds below ${flipAt} (now ${now})`,
    flip_condition: up ? `RSI(14) below ${flipAt}` : `RSI(14) above ${flipAt}`,
  };
}

/** Indicator: MACD histogram sign. */
export function macdIndicator(f: Features, direction: Direction): KeyIndicator {
  const now = f.macdHist === null ? 'n/a' : f.macdHist.toFixed(3);
  const up = direction !== 'SHORT';
  return {
    name: `${f.ticker} MACD(12,26,9) histogram`,
    expected_signal: up ? `positive or rising (now ${now})` : `negative or falling (now ${now})`,
    flip_condition: up ? 'histogram negative and falling for two sessions' : 'histogram positive and rising for two sessions',
  };
}

/** Indicator: another instrument's level that the thesis depends on (e.g. SPY for a macro call). */
export function confirmIndicator(
  f: Features | undefined,
  level: 'sma_50' | 'sma_20',
  wantAbove: boolean,
  why: string,
): KeyIndicator | null {
  if (!f) return null;
  const value = f.asset[level];
  if (value === null) return null;
  const label = level === 'sma_50' ? 'SMA50' : 'SMA20';
  return {
    name: `${f.ticker} close vs ${label} ${price(value)}`,
    expected_signal: `${wantAbove ? 'above' : 'below'} ${price(value)} (${why}; now ${price(f.close)})`,
    flip_condition: `${f.ticker} close ${wantAbove ? 'below' : 'above'} ${price(value)}`,
  };
}
