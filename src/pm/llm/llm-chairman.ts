/**
 * The LLM chairman (CIO): synthesizes the council's trade from the de-anonymized pitches, their peer
 * reviews and the aggregate, after the review is complete.
 */
import type { AgentResult, CheckpointContext, CallOptions, Chairman, ReviewedPitch, WeekContext } from '../../ports/agents.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, chairmanVariables } from '../../prompts/variables.js';
import { completeForSeat, toAgentResult, type LlmSeatOptions } from '../../research/llm/llm-seat.js';
import { ChairmanDecision, type CheckpointUpdate, type ResearchPack } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { llmCheckpoint } from './llm-checkpoint.js';
import { decisionProblems } from './checks.js';

export const CHAIRMAN_STAGE = 'chairman';

/** Dissent entries name the model of their pitch as we know it, not as the chairman spelled it. */
export function withKnownDissentModels(decision: ChairmanDecision, pitches: readonly ReviewedPitch[]): ChairmanDecision {
  const modelOf = new Map(pitches.map((p) => [p.pitch_id, p.model]));
  return {
    ...decision,
    dissent_summary: decision.dissent_summary.map((d) => ({ ...d, model: modelOf.get(d.pitch_id) ?? d.model })),
  };
}

export class LlmChairman implements Chairman {
  readonly seat: string;

  constructor(private readonly options: LlmSeatOptions) {
    this.seat = options.seat;
  }

  async decide(
    ctx: WeekContext,
    research: ResearchPack,
    pitches: readonly ReviewedPitch[],
    opts: CallOptions,
  ): Promise<AgentResult<ChairmanDecision>> {
    const tickers = ctx.universe.map((a) => a.ticker);
    const result = await completeForSeat(this.options, {
      weekId: ctx.week_id,
      stage: CHAIRMAN_STAGE,
      messages: renderPrompt(PROMPTS.chairman, chairmanVariables(ctx, research, pitches), { dir: this.options.promptsDir }),
      output: {
        name: 'chairman_decision',
        jsonSchema: toJsonSchema('chairman_decision'),
        schema: ChairmanDecision,
        check: (decision) => decisionProblems(decision, ctx.week_id, tickers, pitches),
      },
      signal: opts.signal,
    });
    return toAgentResult(result, withKnownDissentModels(result.value, pitches));
  }

  /** The account's checkpoint: no research, only its position, its week plan and the indicators. */
  checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>> {
    return llmCheckpoint(this.options, ctx, opts);
  }
}
