import { ResearchPack } from '../../schemas/index.js';
import { fanOut } from '../fan-out.js';
import type { Stage } from '../stage.js';
import { parseAgentOutput } from './validate.js';

/** One deep-research analyst writes the neutral research pack every PM reads. */
export const researchStage: Stage<'research'> = {
  name: 'research',
  inputs: ['snapshot'],
  async run(ctx) {
    const [outcome] = await fanOut(['researcher'], (_seat, signal) => ctx.agents.researcher.research(ctx.weekContext(), { signal }), {
      concurrency: 1,
      deadlineMs: ctx.config.models.council.research_deadline_seconds * 1000,
      signal: ctx.signal,
    });
    if (!outcome?.ok) throw new Error(`researcher: ${outcome?.error ?? 'no answer'}`);
    const result = outcome.value;
    const pack = parseAgentOutput('research pack', ResearchPack, result.output);
    return {
      output: { pack, provider: result.provider, model: result.model, usage: result.usage },
      raw: [{ name: 'researcher', text: result.raw }],
      summary: `${pack.macro_regime.risk_mode} regime, ${pack.asset_setups.length} setups, by ${result.model}`,
    };
  },
};
