/**
 * A realistic council week for prompt and agent tests: the offline agents' research, pitches and
 * reviews for the sample snapshot, re-labelled with the LLM seats' names and model ids of
 * config/models.yaml, exactly as the LLM seats would have stamped them.
 */
import type { PmPitch, PeerReview, ResearchPack } from '../../schemas/index.js';
import { meanScore } from '../../schemas/index.js';
import type { ReviewedPitch, WeekContext } from '../../ports/agents.js';
import { buildResearchPack } from '../../research/offline/macro-snapshot-researcher.js';
import { OfflinePortfolioManager, type PersonaName } from '../offline/offline-pm.js';
import { sampleContext } from '../offline/fixtures.js';

export const SEATS: readonly { seat: string; model: string; persona: PersonaName }[] = [
  { seat: 'gpt', model: 'openai/gpt-5.1', persona: 'trend' },
  { seat: 'gemini', model: 'google/gemini-3-pro-preview', persona: 'macro-regime' },
  { seat: 'sonnet', model: 'anthropic/claude-sonnet-4-5', persona: 'mean-reversion' },
  { seat: 'grok', model: 'xai/grok-4', persona: 'contrarian' },
  { seat: 'deepseek', model: 'deepseek/deepseek-chat', persona: 'defensive-carry' },
];

export interface SampleWeek {
  ctx: WeekContext;
  research: ResearchPack;
  /** Pitches by seat, pm_model = the seat's model id. */
  pitches: Map<string, PmPitch>;
  /** What the chairman receives: de-anonymized pitches with their reviews, pitch_id = seat. */
  reviewed: ReviewedPitch[];
}

const opts = { signal: new AbortController().signal };

export async function sampleWeek(): Promise<SampleWeek> {
  const ctx = sampleContext();
  const research = buildResearchPack(ctx);
  const pms = SEATS.map((s) => ({ ...s, pm: new OfflinePortfolioManager(s.seat, s.persona) }));
  const pitches = new Map<string, PmPitch>();
  for (const s of pms) pitches.set(s.seat, { ...(await s.pm.pitch(ctx, research, opts)).output, pm_model: s.model });
  const received = new Map<string, PeerReview[]>();
  for (const reviewer of pms) {
    for (const target of pms) {
      if (reviewer.seat === target.seat) continue;
      const { pm_model: _hidden, ...visible } = pitches.get(target.seat)!;
      const review = (await reviewer.pm.review(ctx, { pitch_id: 'Pitch A', pitch: visible }, pitches.get(reviewer.seat) ?? null, opts))
        .output;
      received.set(target.seat, [
        ...(received.get(target.seat) ?? []),
        { ...review, pitch_id: target.seat, reviewer_model: reviewer.model },
      ]);
    }
  }
  const reviewed = SEATS.map((s, i): ReviewedPitch => {
    const reviews = received.get(s.seat) ?? [];
    return {
      seat: s.seat,
      model: s.model,
      pitch_id: s.seat,
      pitch: pitches.get(s.seat)!,
      reviews,
      mean_rank: i + 1.5,
      mean_score: reviews.reduce((sum, r) => sum + meanScore(r), 0) / reviews.length,
      votes: i === 0 ? 2 : i === 1 ? 1 : 0,
    };
  });
  return { ctx, research, pitches, reviewed };
}
