import { z } from 'zod';
import { AsOfEt, WeekId } from './common.js';

const Score = z.number().int().min(1).max(10);

export const RUBRIC = [
  'clarity',
  'edge_plausibility',
  'timing_catalyst',
  'risk_definition',
  'indicator_integrity',
  'originality',
  'tradeability',
  'ranking_quality',
  'ranking_trade_alignment',
] as const;
export type RubricKey = (typeof RUBRIC)[number];

export const PeerReview = z.object({
  week_id: WeekId,
  asof_et: AsOfEt,
  reviewer_model: z.string().min(1),
  pitch_id: z.string().min(1),
  scores: z.object({
    clarity: Score,
    edge_plausibility: Score,
    timing_catalyst: Score,
    risk_definition: Score,
    indicator_integrity: Score,
    originality: Score,
    tradeability: Score,
    ranking_quality: Score,
    ranking_trade_alignment: Score,
  }),
  ranking_assessment: z.object({
    top3_reasonableness: z.string().min(1),
    bottom3_reasonableness: z.string().min(1),
    missing_logic_flags: z.array(z.string()),
  }),
  trade_choice_assessment: z.object({
    consistency_with_ranking: z.enum(['CONSISTENT', 'INCONSISTENT_BUT_JUSTIFIED', 'INCONSISTENT_UNJUSTIFIED']),
    justification_quality: z.string().min(1),
    invalidation_quality: z.string().min(1),
  }),
  kill_shot: z.string().min(1),
  one_flip_condition: z.string().min(1),
  suggested_fix: z.string().min(1),
});
export type PeerReview = z.infer<typeof PeerReview>;

export function meanScore(review: PeerReview): number {
  const total = RUBRIC.reduce((sum, key) => sum + review.scores[key], 0);
  return total / RUBRIC.length;
}
