import { describe, expect, it } from 'vitest';
import { sampleContext } from '../../pm/offline/fixtures.js';
import type { LlmRequest } from '../../ports/llm.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, researchVariables } from '../../prompts/variables.js';
import { ResearchPack } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { buildResearchPack } from '../offline/macro-snapshot-researcher.js';
import { FakeLlmClient } from './fixtures.js';
import { LlmResearcher, researchPackProblems } from './llm-researcher.js';

const ctx = sampleContext();
const tickers = ctx.universe.map((a) => a.ticker);
const opts = { signal: new AbortController().signal };

/** A pack as a model would write it: the offline pack's content, its own source line, no citations. */
function modelPack(patch: Partial<ResearchPack> = {}): ResearchPack {
  return { ...buildResearchPack(ctx), research_source: 'web search: Fed, BLS, Reuters', citations: [], ...patch };
}

function researcher(client: FakeLlmClient, provider = 'perplexity'): LlmResearcher {
  return new LlmResearcher({
    client,
    provider,
    model: 'sonar-deep-research',
    fallbackModels: ['sonar-reasoning-pro'],
    temperature: 0.2,
    seat: 'researcher',
  });
}

describe('LlmResearcher', () => {
  it('sends the rendered research prompt with the seat, model, schema and the async job API on Perplexity', async () => {
    const client = new FakeLlmClient({ value: modelPack() });
    const signal = new AbortController().signal;
    await researcher(client).research(ctx, { signal });
    const request = client.last();
    expect(request).toMatchObject({
      weekId: '2025-06-25',
      stage: 'research',
      seat: 'researcher',
      provider: 'perplexity',
      model: 'sonar-deep-research',
      fallbackModels: ['sonar-reasoning-pro'],
      temperature: 0.2,
      async: true,
    });
    expect(request.signal).toBe(signal);
    expect(request.output.name).toBe('research_pack');
    expect(request.output.jsonSchema).toEqual(toJsonSchema('research_pack'));
    expect(request.output.schema).toBe(ResearchPack);
    expect(request.messages).toEqual(renderPrompt(PROMPTS.research, researchVariables(ctx)));
  });

  it('uses the synchronous API on other providers', async () => {
    const client = new FakeLlmClient({ value: modelPack() });
    await researcher(client, 'openrouter').research(ctx, opts);
    expect(client.last().async).toBe(false);
  });

  it('returns the pack with the answering model, its citations when the model gave none, and the usage', async () => {
    const urls = ['https://www.federalreserve.gov/newsevents/pressreleases.htm', 'https://www.bls.gov/schedule/news_release/cpi.htm'];
    const client = new FakeLlmClient({ value: modelPack(), model: 'sonar-reasoning-pro', citations: urls });
    const result = await researcher(client).research(ctx, opts);
    expect(result.provider).toBe('perplexity');
    expect(result.model).toBe('sonar-reasoning-pro');
    expect(result.output.research_source).toBe('perplexity/sonar-reasoning-pro (web search: Fed, BLS, Reuters)');
    expect(result.output.citations).toEqual([
      { source: 'www.federalreserve.gov', url: urls[0], note: 'returned by the research model' },
      { source: 'www.bls.gov', url: urls[1], note: 'returned by the research model' },
    ]);
    expect(result.usage).toEqual({ calls: 2, prompt_tokens: 4210, completion_tokens: 1830, cost_usd: 0.0421 });
    expect(result.raw).toBe(JSON.stringify(modelPack()));
    expect(() => ResearchPack.parse(result.output)).not.toThrow();
  });

  it("keeps the model's own citations", async () => {
    const own = [{ source: 'FOMC statement', url: 'https://www.federalreserve.gov/x', note: 'policy path' }];
    const client = new FakeLlmClient({ value: modelPack({ citations: own }), citations: ['https://example.com/other'] });
    expect((await researcher(client).research(ctx, opts)).output.citations).toEqual(own);
  });

  it('rejects a pack for another week or with a setup outside the universe, with precise messages', async () => {
    const client = new FakeLlmClient({ value: modelPack() });
    await researcher(client).research(ctx, opts);
    const check = (client.last() as LlmRequest<ResearchPack>).output.check!;
    expect(check(modelPack())).toEqual([]);
    const setups = modelPack().asset_setups;
    const foreign = { ...setups[0]!, ticker: 'TSLA' };
    expect(check(modelPack({ week_id: '2025-06-18', asset_setups: [...setups, foreign] }))).toEqual([
      'week_id: expected 2025-06-25, got 2025-06-18',
      'asset_setups: TSLA is not in the universe (SPY, QQQ, IWM, TLT, IEF, HYG, LQD, UUP, GLD, USO)',
    ]);
    expect(researchPackProblems(modelPack(), '2025-06-25', tickers)).toEqual([]);
  });

  it('fails when the client fails: no default research', async () => {
    const invalid = new FakeLlmClient({ value: modelPack({ week_id: '2025-06-18' }) });
    await expect(researcher(invalid).research(ctx, opts)).rejects.toThrow(
      'invalid research_pack: week_id: expected 2025-06-25, got 2025-06-18',
    );
    const down = new FakeLlmClient(new Error('perplexity: HTTP 503 after 4 attempts'));
    await expect(researcher(down).research(ctx, opts)).rejects.toThrow('perplexity: HTTP 503 after 4 attempts');
  });
});
