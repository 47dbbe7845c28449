import { z } from 'zod';
import { InvalidationTrigger } from './invalidation-trigger.js';
import { AsOfEt, ClockTime, Conviction, Direction, Horizon, Ticker, WeekId, convictionSignProblem } from './common.js';

export const OutperformanceBucket = z.enum(['STRONG', 'MODEST', 'FLAT', 'NEGATIVE']);

export const InstrumentRank = z.object({
  ticker: Ticker,
  rank: z.number().int().min(1),
  expected_outperformance_bucket_vs_spy: OutperformanceBucket,
  reason: z.string().min(1),
});
export type InstrumentRank = z.infer<typeof InstrumentRank>;

export const SelectedTrade = z.object({
  ticker: Ticker,
  direction: Direction,
  horizon: Horizon,
  conviction: Conviction,
  thesis_bullets: z.array(z.string().min(1)).min(2).max(6),
  invalidation_rule_this_week: z.string().min(1),
  /** The rule in machine-checkable form (null when it cannot be put so); the engine evaluates it at every checkpoint. */
  invalidation_trigger: InvalidationTrigger.nullable(),
  entry_plan: z.object({
    order_type: z.enum(['MARKET', 'LIMIT']),
    timing: z.enum(['MOO', 'INTRADAY', 'MOC']),
    notes: z.string(),
  }),
});
export type SelectedTrade = z.infer<typeof SelectedTrade>;

export const KeyIndicator = z.object({
  name: z.string().min(1),
  expected_signal: z.string().min(1),
  flip_condition: z.string().min(1),
});

export const PmPitchShape = z.object({
  week_id: WeekId,
  asof_et: AsOfEt,
  pm_model: z.string().min(1),
  instrument_ranking: z.array(InstrumentRank).min(1),
  selected_trade: SelectedTrade,
  monitoring_plan: z.object({
    checkpoints_et: z.array(ClockTime),
    key_indicators: z.array(KeyIndicator).min(1).max(8),
  }),
});

/** pm_pitch_with_ranking: the JSON-Schema-expressible shape plus the sign rule. */
export const PmPitch = PmPitchShape.superRefine((pitch, ctx) => {
  const sign = convictionSignProblem(pitch.selected_trade.direction, pitch.selected_trade.conviction);
  if (sign) ctx.addIssue({ code: 'custom', path: ['selected_trade', 'conviction'], message: sign });
});
export type PmPitch = z.infer<typeof PmPitch>;

/**
 * Rules that depend on the universe, which JSON Schema cannot express: every universe ticker
 * ranked exactly once, ranks a permutation of 1..N, and the selected ticker in the universe.
 * Returns precise messages; empty when the pitch is sound.
 */
export function pitchUniverseProblems(pitch: PmPitch, universe: readonly string[]): string[] {
  const problems: string[] = [];
  const n = universe.length;
  const seenTickers = new Map<string, number>();
  const seenRanks = new Map<number, string>();
  for (const row of pitch.instrument_ranking) {
    if (!universe.includes(row.ticker)) problems.push(`instrument_ranking: ${row.ticker} is not in the universe`);
    if (seenTickers.has(row.ticker)) problems.push(`instrument_ranking: ${row.ticker} is ranked more than once`);
    seenTickers.set(row.ticker, row.rank);
    if (row.rank < 1 || row.rank > n) problems.push(`instrument_ranking: ${row.ticker} has rank ${row.rank}, expected 1..${n}`);
    const other = seenRanks.get(row.rank);
    if (other !== undefined) problems.push(`instrument_ranking: rank ${row.rank} is given to both ${other} and ${row.ticker}`);
    seenRanks.set(row.rank, row.ticker);
  }
  const missing = universe.filter((t) => !seenTickers.has(t));
  if (missing.length > 0) problems.push(`instrument_ranking: missing ${missing.join(', ')}`);
  if (!universe.includes(pitch.selected_trade.ticker)) {
    problems.push(`selected_trade.ticker: ${pitch.selected_trade.ticker} is not in the universe`);
  }
  return problems;
}
