/**
 * Rules beyond the JSON Schema that an LLM seat's answer must satisfy. The client re-asks the model
 * with these messages, so each one says exactly what is wrong and what was expected.
 */
import type { ReviewedPitch } from '../../ports/agents.js';
import { type ChairmanDecision, type PeerReview, type PmPitch, pitchUniverseProblems } from '../../schemas/index.js';
import { weekIdProblem } from '../../research/llm/llm-seat.js';

export function pitchProblems(pitch: PmPitch, weekId: string, universe: readonly string[]): string[] {
  return [...weekIdProblem(pitch.week_id, weekId), ...pitchUniverseProblems(pitch, universe)];
}

export function reviewProblems(review: PeerReview, weekId: string, label: string): string[] {
  const problems = weekIdProblem(review.week_id, weekId);
  if (review.pitch_id !== label)
    problems.push(`pitch_id: expected "${label}" (the label of the pitch under review), got "${review.pitch_id}"`);
  return problems;
}

export function decisionProblems(
  decision: ChairmanDecision,
  weekId: string,
  universe: readonly string[],
  pitches: readonly Pick<ReviewedPitch, 'pitch_id'>[],
): string[] {
  const problems = weekIdProblem(decision.week_id, weekId);
  const ticker = decision.selected_trade.ticker;
  if (!universe.includes(ticker)) problems.push(`selected_trade.ticker: ${ticker} is not in the universe (${universe.join(', ')})`);
  const ids = pitches.map((p) => p.pitch_id);
  for (const dissent of decision.dissent_summary) {
    if (!ids.includes(dissent.pitch_id)) {
      problems.push(`dissent_summary: pitch_id "${dissent.pitch_id}" is not one of the pitches given (${ids.join(', ')})`);
    }
  }
  return problems;
}
