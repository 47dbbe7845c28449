/**
 * The deep-research seat: one model (Perplexity sonar-deep-research by default) writes the neutral
 * research pack from the weekly research prompt. Perplexity's deep research runs for minutes, so it
 * goes through the provider's asynchronous job API.
 */
import type { AgentResult, CallOptions, Researcher, WeekContext } from '../../ports/agents.js';
import type { LlmResult } from '../../ports/llm.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, researchVariables } from '../../prompts/variables.js';
import { ResearchPack } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { completeForSeat, toAgentResult, weekIdProblem, type LlmSeatOptions } from './llm-seat.js';

export const RESEARCH_STAGE = 'research';

/** Rules the schema cannot state: the right week, and setups only for instruments we trade. */
export function researchPackProblems(pack: ResearchPack, weekId: string, universe: readonly string[]): string[] {
  const problems = weekIdProblem(pack.week_id, weekId);
  for (const setup of pack.asset_setups) {
    if (!universe.includes(setup.ticker)) problems.push(`asset_setups: ${setup.ticker} is not in the universe (${universe.join(', ')})`);
  }
  return problems;
}

/** Search-backed models return their sources beside the answer: keep them when the pack cites none. */
export function withClientCitations(pack: ResearchPack, citations: readonly string[]): ResearchPack {
  if (pack.citations.length > 0 || citations.length === 0) return pack;
  return { ...pack, citations: citations.map((url) => ({ source: sourceName(url), url, note: 'returned by the research model' })) };
}

function sourceName(url: string): string {
  try {
    return new URL(url).hostname || url;
  } catch {
    return url;
  }
}

/**
 * "provider/model (the model's own description)": the model cannot know which id served it
 * (fallbacks, router aliases), so the seat records who really answered, like the offline researcher.
 */
export function researchSource(result: Pick<LlmResult<unknown>, 'provider' | 'model'>, described: string): string {
  const who = `${result.provider}/${result.model}`;
  const text = described.trim();
  return text === '' || text === who ? who : `${who} (${text})`;
}

export class LlmResearcher implements Researcher {
  readonly seat: string;

  constructor(private readonly options: LlmSeatOptions) {
    this.seat = options.seat;
  }

  async research(ctx: WeekContext, opts: CallOptions): Promise<AgentResult<ResearchPack>> {
    const tickers = ctx.universe.map((a) => a.ticker);
    const result: LlmResult<ResearchPack> = await completeForSeat(this.options, {
      weekId: ctx.week_id,
      stage: RESEARCH_STAGE,
      messages: renderPrompt(PROMPTS.research, researchVariables(ctx), { dir: this.options.promptsDir }),
      output: {
        name: 'research_pack',
        jsonSchema: toJsonSchema('research_pack'),
        schema: ResearchPack,
        check: (pack) => researchPackProblems(pack, ctx.week_id, tickers),
      },
      async: this.options.provider === 'perplexity',
      signal: opts.signal,
    });
    const pack = {
      ...withClientCitations(result.value, result.citations),
      research_source: researchSource(result, result.value.research_source),
    };
    return toAgentResult(result, pack);
  }
}
