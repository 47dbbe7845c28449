import { ResearchPack } from '../../schemas/index.js';
import { fanOut } from '../fan-out.js';
import { rawRecord, type Stage } from '../stage.js';
import { parseAgentOutput } from './validate.js';

/**
 * One deep-research analyst writes the neutral research pack every PM reads.
 *
 * When the analyst is an LLM and fails after its retries, the week does not end silently: with
 * `council.research_fallback: offline` (the default) the offline analyst writes the pack from the
 * snapshot, and the output says so — `fallback` names the seat that failed and why, the pack's
 * research_source says FALLBACK — so every report shows the PMs decided on the offline pack. With
 * `none` the stage fails and a re-run resumes here.
 */
export const researchStage: Stage<'research'> = {
  name: 'research',
  inputs: ['snapshot'],
  async run(ctx) {
    const [outcome] = await fanOut(['researcher'], (_seat, signal) => ctx.agents.researcher.research(ctx.weekContext(), { signal }), {
      concurrency: 1,
      deadlineMs: ctx.config.models.council.research_deadline_seconds * 1000,
      signal: ctx.signal,
    });
    if (outcome?.ok) {
      const result = outcome.value;
      const pack = parseAgentOutput('research pack', ResearchPack, result.output);
      return {
        output: { pack, provider: result.provider, model: result.model, usage: result.usage },
        raw: rawRecord('researcher', result.raw),
        summary: `${pack.macro_regime.risk_mode} regime, ${pack.asset_setups.length} setups, by ${result.model}`,
      };
    }
    const error = outcome?.error ?? 'no answer';
    const fallback = ctx.agents.fallbackResearcher;
    if (!fallback) throw new Error(`researcher: ${error}`);
    const failed = ctx.agents.assignments.get('researcher') ?? { provider: 'unknown', model: 'unknown' };
    ctx.progress({
      type: 'seat_finished',
      week_id: ctx.week.week_id,
      stage: 'research',
      seat: 'researcher',
      ok: false,
      ms: outcome?.ms ?? 0,
      detail: error,
    });
    const result = await fallback.research(ctx.weekContext(), { signal: ctx.signal ?? new AbortController().signal });
    const parsed = parseAgentOutput('research pack', ResearchPack, result.output);
    const pack = { ...parsed, research_source: `FALLBACK ${parsed.research_source}: ${failed.model} failed (${error})` };
    return {
      output: { pack, provider: result.provider, model: result.model, usage: result.usage, fallback: { ...failed, error } },
      raw: rawRecord('researcher', result.raw),
      summary: `FALLBACK: ${failed.model} failed (${error}); ${pack.macro_regime.risk_mode} regime by ${result.model}`,
    };
  },
};
