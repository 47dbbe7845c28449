/**
 * An LLM PM seat: pitches from the pm_pitch prompt and reviews other pitches, anonymized, from the
 * peer_review prompt. Identities (pm_model, reviewer_model) are stamped from the model that actually
 * answered, never trusted to the model's own text.
 */
import type { AgentResult, CheckpointContext, AnonymizedPitch, CallOptions, PortfolioManager, WeekContext } from '../../ports/agents.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, peerReviewVariables, pmPitchVariables } from '../../prompts/variables.js';
import { completeForSeat, toAgentResult, type LlmSeatOptions } from '../../research/llm/llm-seat.js';
import { PeerReview, PmPitch, type CheckpointUpdate, type ResearchPack } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { llmCheckpoint } from './llm-checkpoint.js';
import { pitchProblems, reviewProblems } from './checks.js';

export const PITCH_STAGE = 'pm_pitches';
export const REVIEW_STAGE = 'peer_review';

export class LlmPortfolioManager implements PortfolioManager {
  readonly seat: string;

  constructor(private readonly options: LlmSeatOptions) {
    this.seat = options.seat;
  }

  async pitch(ctx: WeekContext, research: ResearchPack, opts: CallOptions): Promise<AgentResult<PmPitch>> {
    const tickers = ctx.universe.map((a) => a.ticker);
    const result = await completeForSeat(this.options, {
      weekId: ctx.week_id,
      stage: PITCH_STAGE,
      messages: renderPrompt(PROMPTS.pmPitch, pmPitchVariables(ctx, research), { dir: this.options.promptsDir }),
      output: {
        name: 'pm_pitch_with_ranking',
        jsonSchema: toJsonSchema('pm_pitch_with_ranking'),
        schema: PmPitch,
        check: (pitch) => pitchProblems(pitch, ctx.week_id, tickers),
      },
      signal: opts.signal,
    });
    return toAgentResult(result, { ...result.value, pm_model: result.model });
  }

  async review(ctx: WeekContext, target: AnonymizedPitch, own: PmPitch | null, opts: CallOptions): Promise<AgentResult<PeerReview>> {
    const result = await completeForSeat(this.options, {
      weekId: ctx.week_id,
      stage: REVIEW_STAGE,
      // The prompt carries the label only: peerReviewVariables strips pm_model from both pitches.
      messages: renderPrompt(PROMPTS.peerReview, peerReviewVariables(ctx, target, own), { dir: this.options.promptsDir }),
      output: {
        name: 'peer_review_ranking_vs_choice',
        jsonSchema: toJsonSchema('peer_review_ranking_vs_choice'),
        schema: PeerReview,
        check: (review) => reviewProblems(review, ctx.week_id, target.pitch_id),
      },
      signal: opts.signal,
    });
    return toAgentResult(result, { ...result.value, reviewer_model: result.model });
  }

  /** The account's checkpoint: no research, only its position, its week plan and the indicators. */
  checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>> {
    return llmCheckpoint(this.options, ctx, opts);
  }
}
