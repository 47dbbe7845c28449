import { describe, expect, it } from 'vitest';
import type { PeerReview } from '../schemas/index.js';
import { aggregateReviews, type ReviewRecord } from './aggregation.js';

function review(score: number, pitch_id: string): PeerReview {
  const s = score;
  return {
    week_id: '2024-03-06',
    asof_et: '2024-03-06T08:00:00-05:00',
    reviewer_model: 'offline/test',
    pitch_id,
    scores: {
      clarity: s,
      edge_plausibility: s,
      timing_catalyst: s,
      risk_definition: s,
      indicator_integrity: s,
      originality: s,
      tradeability: s,
      ranking_quality: s,
      ranking_trade_alignment: s,
    },
    ranking_assessment: { top3_reasonableness: 'ok', bottom3_reasonableness: 'ok', missing_logic_flags: [] },
    trade_choice_assessment: { consistency_with_ranking: 'CONSISTENT', justification_quality: 'ok', invalidation_quality: 'ok' },
    kill_shot: 'x',
    one_flip_condition: 'x',
    suggested_fix: 'x',
  };
}

const rec = (reviewer: string, target_seat: string, score: number): ReviewRecord => ({
  reviewer,
  target_seat,
  pitch_id: `L-${target_seat}`,
  review: review(score, `L-${target_seat}`),
});

describe('aggregateReviews', () => {
  it('computes mean rank, mean score and first-place votes per seat', () => {
    const records = [rec('a', 'b', 8), rec('a', 'c', 6), rec('b', 'a', 5), rec('b', 'c', 7), rec('c', 'a', 4), rec('c', 'b', 9)];
    const rows = aggregateReviews(['a', 'b', 'c'], records);
    const by = Object.fromEntries(rows.map((r) => [r.seat, r]));
    expect(by.a).toMatchObject({ mean_rank: 2, mean_score: 4.5, votes: 0, review_count: 2 });
    expect(by.b).toMatchObject({ mean_rank: 1, mean_score: 8.5, votes: 2, review_count: 2 });
    expect(by.c).toMatchObject({ mean_rank: 1.5, mean_score: 6.5, votes: 1, review_count: 2 });
    expect(by.b?.rubric_means.clarity).toBe(8.5);
  });

  it('gives tied first places a vote each and reports seats without reviews as null', () => {
    const rows = aggregateReviews(['a', 'b', 'c', 'd'], [rec('a', 'b', 7), rec('a', 'c', 7)]);
    const by = Object.fromEntries(rows.map((r) => [r.seat, r]));
    expect(by.b?.votes).toBe(1);
    expect(by.c?.votes).toBe(1);
    expect(by.d).toMatchObject({ mean_rank: null, mean_score: null, votes: 0, review_count: 0 });
  });
});
