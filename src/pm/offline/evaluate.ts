/**
 * The shared machinery of every persona: score the whole universe, rank it (ties by ticker, so the
 * order never depends on input order), bucket each ticker against SPY, apply the persona's selection
 * rule and derive conviction from the selected score. A reviewer re-runs this to get its own view.
 */
import type { MarketSnapshot } from '../../market/types.js';
import type { MacroRegime } from '../../research/offline/regime.js';
import { byText } from '../../research/offline/snapshot-text.js';
import type { Direction, PmPitch } from '../../schemas/index.js';
import { features, type Features } from './features.js';
import {
  HIGH_CONVICTION_SCORE,
  MIN_POSITION_SCORE,
  type PersonaEnv,
  type PersonaSpec,
  type Scored,
  type Selection,
} from './persona-spec.js';

type Bucket = PmPitch['instrument_ranking'][number]['expected_outperformance_bucket_vs_spy'];

export interface RankedRow extends Scored {
  rank: number;
  bucket: Bucket;
}

export interface Evaluation {
  env: PersonaEnv;
  /** Best first; ranks 1..N. */
  ranked: RankedRow[];
  selection: Selection;
  /** The selected row. */
  selected: RankedRow;
  /** Signed: > 0 LONG, < 0 SHORT, 0 FLAT. */
  conviction: number;
}

export function personaEnv(snapshot: MarketSnapshot, regime: MacroRegime): PersonaEnv {
  return { regime, snapshot, features: new Map(snapshot.assets.map((a) => [a.ticker, features(a)])) };
}

/** Bucket thresholds in units of the cross-sectional standard deviation of scores. */
const STRONG_Z = 0.75;
const MODEST_Z = 0.2;

function bucketOf(score: number, reference: number, spread: number): Bucket {
  if (spread <= 0) return 'FLAT';
  const z = (score - reference) / spread;
  if (z > STRONG_Z) return 'STRONG';
  if (z > MODEST_Z) return 'MODEST';
  if (z >= -MODEST_Z) return 'FLAT';
  return 'NEGATIVE';
}

function stdev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
}

/** |score| → conviction magnitude 0 (too weak to trade), 1 or 2. */
export function convictionMagnitude(score: number): number {
  const m = Math.abs(score);
  if (m >= HIGH_CONVICTION_SCORE) return 2;
  if (m >= MIN_POSITION_SCORE) return 1;
  return 0;
}

/** Sign rule: LONG +, SHORT −; a position too weak for conviction 1 becomes FLAT. */
function resolve(selection: Selection, score: number): { selection: Selection; conviction: number } {
  if (selection.direction === 'FLAT') return { selection, conviction: 0 };
  const magnitude = convictionMagnitude(score);
  if (magnitude === 0) {
    return {
      selection: {
        ...selection,
        direction: 'FLAT',
        why: `${selection.why} The score ${score.toFixed(2)} is too weak to size: stay in cash.`,
      },
      conviction: 0,
    };
  }
  return { selection, conviction: selection.direction === 'LONG' ? magnitude : -magnitude };
}

export function scoreUniverse(spec: PersonaSpec, env: PersonaEnv, tickers: readonly string[]): Scored[] {
  return tickers.map((ticker) => {
    const f: Features | undefined = env.features.get(ticker);
    if (!f)
      return { ticker, score: 0, reason: `no snapshot data for ${ticker} through ${env.snapshot.data_through}: scored neutral`, f: null };
    const { score, reason } = spec.score(f, env);
    return { ticker, score, reason, f };
  });
}

export function evaluate(spec: PersonaSpec, snapshot: MarketSnapshot, regime: MacroRegime, tickers: readonly string[]): Evaluation {
  if (tickers.length === 0) throw new Error('evaluate: empty universe');
  const env = personaEnv(snapshot, regime);
  const scored = scoreUniverse(spec, env, tickers);
  const order = [...scored].sort((a, b) => b.score - a.score || byText(a.ticker, b.ticker));
  const reference = scored.find((s) => s.ticker === 'SPY')?.score ?? 0;
  const spread = stdev(scored.map((s) => s.score));
  const ranked: RankedRow[] = order.map((s, i) => ({ ...s, rank: i + 1, bucket: bucketOf(s.score, reference, spread) }));
  const choice = spec.select(ranked, env);
  const selected = ranked.find((r) => r.ticker === choice.ticker);
  if (!selected) throw new Error(`${spec.name} selected ${choice.ticker}, which is not in the universe`);
  const final = resolve(choice, selected.score);
  return { env, ranked, selection: final.selection, selected, conviction: final.conviction };
}

/** Direction of a signed conviction. */
export function directionOf(conviction: number): Direction {
  return conviction > 0 ? 'LONG' : conviction < 0 ? 'SHORT' : 'FLAT';
}
