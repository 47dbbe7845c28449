import { beforeAll, describe, expect, it } from 'vitest';
import type { LlmRequest } from '../../ports/llm.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, chairmanVariables } from '../../prompts/variables.js';
import { FakeLlmClient } from '../../research/llm/fixtures.js';
import { ChairmanDecision } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { decideCouncil } from '../offline/peer-weighted-chairman.js';
import { sampleWeek, type SampleWeek } from './fixtures.js';
import { LlmChairman } from './llm-chairman.js';

let week: SampleWeek;
beforeAll(async () => {
  week = await sampleWeek();
});
const opts = { signal: new AbortController().signal };

function chairman(client: FakeLlmClient): LlmChairman {
  return new LlmChairman({ client, provider: 'openrouter', model: 'anthropic/claude-opus-4.5', temperature: 0.3, seat: 'chairman' });
}

/** A decision as the model would write it: the offline chairman's, over the same pitches. */
function modelDecision(): ChairmanDecision {
  return decideCouncil(week.ctx, week.reviewed);
}

describe('LlmChairman', () => {
  it('sends the chairman prompt with the de-anonymized pitches, the seat, model and schema', async () => {
    const client = new FakeLlmClient({ value: modelDecision() });
    await chairman(client).decide(week.ctx, week.research, week.reviewed, opts);
    const request = client.last();
    expect(request).toMatchObject({
      weekId: '2025-06-25',
      stage: 'chairman',
      seat: 'chairman',
      provider: 'openrouter',
      model: 'anthropic/claude-opus-4.5',
      fallbackModels: [],
      temperature: 0.3,
    });
    expect(request.output.name).toBe('chairman_decision');
    expect(request.output.jsonSchema).toEqual(toJsonSchema('chairman_decision'));
    expect(request.output.schema).toBe(ChairmanDecision);
    expect(request.messages).toEqual(renderPrompt(PROMPTS.chairman, chairmanVariables(week.ctx, week.research, week.reviewed)));
    const user = request.messages[1]!.content;
    for (const p of week.reviewed) expect(user).toContain(`## ${p.pitch_id}: seat ${p.seat}, model ${p.model}`);
  });

  it('returns the decision with usage, and the dissenters named by the models we know', async () => {
    const decision = modelDecision();
    expect(decision.dissent_summary.length).toBeGreaterThan(0);
    const misspelled = { ...decision, dissent_summary: decision.dissent_summary.map((d) => ({ ...d, model: 'some model' })) };
    const client = new FakeLlmClient({ value: misspelled, model: 'anthropic/claude-opus-4.5' });
    const result = await chairman(client).decide(week.ctx, week.research, week.reviewed, opts);
    expect(result.output).toEqual(decision);
    expect(result.output.dissent_summary.map((d) => d.model)).toEqual(
      decision.dissent_summary.map((d) => week.reviewed.find((p) => p.pitch_id === d.pitch_id)!.model),
    );
    expect(result).toMatchObject({ provider: 'openrouter', model: 'anthropic/claude-opus-4.5', usage: { calls: 2, cost_usd: 0.0421 } });
  });

  it('rejects a foreign ticker, another week or an unknown dissenting pitch, with precise messages', async () => {
    const client = new FakeLlmClient({ value: modelDecision() });
    await chairman(client).decide(week.ctx, week.research, week.reviewed, opts);
    const check = (client.last() as LlmRequest<ChairmanDecision>).output.check!;
    const d = modelDecision();
    expect(check(d)).toEqual([]);
    const bad: ChairmanDecision = {
      ...d,
      week_id: '2025-06-18',
      selected_trade: { ...d.selected_trade, ticker: 'BTC' },
      dissent_summary: [...d.dissent_summary, { pitch_id: 'Pitch A', model: 'x', key_concern: 'y' }],
    };
    expect(check(bad)).toEqual([
      'week_id: expected 2025-06-25, got 2025-06-18',
      'selected_trade.ticker: BTC is not in the universe (SPY, QQQ, IWM, TLT, IEF, HYG, LQD, UUP, GLD, USO)',
      'dissent_summary: pitch_id "Pitch A" is not one of the pitches given (gpt, gemini, sonnet, grok, deepseek)',
    ]);
  });

  it('fails when the client fails: no default decision', async () => {
    const d = modelDecision();
    const foreign = new FakeLlmClient({ value: { ...d, selected_trade: { ...d.selected_trade, ticker: 'TSLA' } } });
    await expect(chairman(foreign).decide(week.ctx, week.research, week.reviewed, opts)).rejects.toThrow(
      'selected_trade.ticker: TSLA is not in the universe',
    );
    const down = new FakeLlmClient(new Error('openrouter: HTTP 401 invalid key'));
    await expect(chairman(down).decide(week.ctx, week.research, week.reviewed, opts)).rejects.toThrow('openrouter: HTTP 401 invalid key');
  });
});
