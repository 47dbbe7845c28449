import { RUBRIC, type RubricKey, type PeerReview, meanScore } from '../schemas/index.js';

export interface ReviewRecord {
  reviewer: string;
  pitch_id: string;
  target_seat: string;
  review: PeerReview;
}

export interface AggregateRow {
  seat: string;
  /** Mean of the pitch's rank within each reviewer's set (1 = that reviewer's best-scored pitch). */
  mean_rank: number | null;
  /** Mean over reviews of the rubric mean (1–10). */
  mean_score: number | null;
  /** How many reviewers scored this pitch highest of those they reviewed. */
  votes: number;
  review_count: number;
  rubric_means: Partial<Record<RubricKey, number>>;
}

/**
 * Peer-review aggregation. A reviewer's rank of a pitch comes from its rubric mean among the pitches
 * it reviewed; ties share the better rank, and a tie for first gives each tied pitch a vote.
 */
export function aggregateReviews(seats: readonly string[], records: readonly ReviewRecord[]): AggregateRow[] {
  const ranks = new Map<string, number[]>();
  const votes = new Map<string, number>();
  const byReviewer = groupBy(records, (r) => r.reviewer);
  for (const reviews of byReviewer.values()) {
    const scored = reviews.map((r) => ({ seat: r.target_seat, score: meanScore(r.review) }));
    for (const entry of scored) {
      const rank = 1 + scored.filter((other) => other.score > entry.score).length;
      ranks.set(entry.seat, [...(ranks.get(entry.seat) ?? []), rank]);
      if (rank === 1) votes.set(entry.seat, (votes.get(entry.seat) ?? 0) + 1);
    }
  }
  return seats.map((seat) => {
    const received = records.filter((r) => r.target_seat === seat);
    const rubric_means: Partial<Record<RubricKey, number>> = {};
    if (received.length > 0) {
      for (const key of RUBRIC) rubric_means[key] = round(mean(received.map((r) => r.review.scores[key])));
    }
    const seatRanks = ranks.get(seat) ?? [];
    return {
      seat,
      mean_rank: seatRanks.length > 0 ? round(mean(seatRanks)) : null,
      mean_score: received.length > 0 ? round(mean(received.map((r) => meanScore(r.review)))) : null,
      votes: votes.get(seat) ?? 0,
      review_count: received.length,
      rubric_means,
    };
  });
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
