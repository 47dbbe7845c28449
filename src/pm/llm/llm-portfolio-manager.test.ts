import { beforeAll, describe, expect, it } from 'vitest';
import type { AnonymizedPitch } from '../../ports/agents.js';
import type { LlmRequest } from '../../ports/llm.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, peerReviewVariables, pmPitchVariables } from '../../prompts/variables.js';
import { FakeLlmClient } from '../../research/llm/fixtures.js';
import { PeerReview, PmPitch } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';
import { sampleWeek, type SampleWeek } from './fixtures.js';
import { LlmPortfolioManager } from './llm-portfolio-manager.js';

let week: SampleWeek;
beforeAll(async () => {
  week = await sampleWeek();
});
const opts = { signal: new AbortController().signal };

function pm(client: FakeLlmClient): LlmPortfolioManager {
  return new LlmPortfolioManager({
    client,
    provider: 'requesty',
    model: 'openai/gpt-5.1',
    fallbackModels: ['openai/gpt-5-mini'],
    temperature: 0.7,
    seat: 'gpt',
  });
}

/** The gpt seat's pitch as the model would write it: it does not know its id. */
function modelPitch(): PmPitch {
  return { ...week.pitches.get('gpt')!, pm_model: 'I am a helpful assistant' };
}

/** The pitch the gpt seat reviews: the gemini seat's, anonymized. */
function target(label = 'Pitch B'): AnonymizedPitch {
  const { pm_model: _hidden, ...visible } = week.pitches.get('gemini')!;
  return { pitch_id: label, pitch: visible };
}

function modelReview(patch: Partial<PeerReview> = {}): PeerReview {
  const review = week.reviewed.find((p) => p.seat === 'gemini')!.reviews[0]!;
  return { ...review, pitch_id: 'Pitch B', reviewer_model: 'unknown', ...patch };
}

describe('LlmPortfolioManager.pitch', () => {
  it('sends the pm_pitch prompt with the seat, model, fallbacks, temperature and schema', async () => {
    const client = new FakeLlmClient({ value: modelPitch() });
    await pm(client).pitch(week.ctx, week.research, opts);
    const request = client.last();
    expect(request).toMatchObject({
      weekId: '2025-06-25',
      stage: 'pm_pitches',
      seat: 'gpt',
      provider: 'requesty',
      model: 'openai/gpt-5.1',
      fallbackModels: ['openai/gpt-5-mini'],
      temperature: 0.7,
    });
    expect(request.async).toBeUndefined();
    expect(request.signal).toBe(opts.signal);
    expect(request.output.name).toBe('pm_pitch_with_ranking');
    expect(request.output.jsonSchema).toEqual(toJsonSchema('pm_pitch_with_ranking'));
    expect(request.output.schema).toBe(PmPitch);
    expect(request.messages).toEqual(renderPrompt(PROMPTS.pmPitch, pmPitchVariables(week.ctx, week.research)));
  });

  it('stamps pm_model with the model that answered, a fallback included, and maps usage', async () => {
    const client = new FakeLlmClient({ value: modelPitch(), model: 'openai/gpt-5-mini', usage: { calls: 3, cost_usd: 0.0125 } });
    const result = await pm(client).pitch(week.ctx, week.research, opts);
    expect(result.output.pm_model).toBe('openai/gpt-5-mini');
    expect(result.model).toBe('openai/gpt-5-mini');
    expect(result.provider).toBe('requesty');
    expect(result.usage).toEqual({ calls: 3, prompt_tokens: 4210, completion_tokens: 1830, cost_usd: 0.0125 });
    expect(result.raw).toBe(JSON.stringify(modelPitch()));
    expect({ ...result.output, pm_model: 'x' }).toEqual({ ...modelPitch(), pm_model: 'x' });
  });

  it('rejects a pitch missing a ticker, a foreign ticker or another week, with precise messages', async () => {
    const client = new FakeLlmClient({ value: modelPitch() });
    await pm(client).pitch(week.ctx, week.research, opts);
    const check = (client.last() as LlmRequest<PmPitch>).output.check!;
    expect(check(modelPitch())).toEqual([]);

    const p = modelPitch();
    const missingQqq = { ...p, instrument_ranking: p.instrument_ranking.filter((r) => r.ticker !== 'QQQ') };
    expect(check(missingQqq)).toEqual(['instrument_ranking: missing QQQ']);

    const foreign = { ...p, week_id: '2025-06-18', selected_trade: { ...p.selected_trade, ticker: 'TSLA' } };
    expect(check(foreign)).toEqual(['week_id: expected 2025-06-25, got 2025-06-18', 'selected_trade.ticker: TSLA is not in the universe']);
  });

  it('fails when the client fails: a failed seat stays failed, with no default pitch', async () => {
    const p = modelPitch();
    const bad = new FakeLlmClient({ value: { ...p, instrument_ranking: p.instrument_ranking.filter((r) => r.ticker !== 'USO') } });
    await expect(pm(bad).pitch(week.ctx, week.research, opts)).rejects.toThrow('instrument_ranking: missing USO');
    const down = new FakeLlmClient(new Error('requesty: timeout after 120000 ms'));
    await expect(pm(down).pitch(week.ctx, week.research, opts)).rejects.toThrow('requesty: timeout after 120000 ms');
    expect(down.requests).toHaveLength(1);
  });
});

describe('LlmPortfolioManager.review', () => {
  it('sends the peer_review prompt with the label only: no seat or model name of the target', async () => {
    const client = new FakeLlmClient({ value: modelReview() });
    // A careless caller passing the author along at runtime must not leak it either.
    const leaky = { pitch_id: 'Pitch B', pitch: week.pitches.get('gemini')! } as AnonymizedPitch;
    await pm(client).review(week.ctx, leaky, week.pitches.get('gpt')!, opts);
    const request = client.last();
    expect(request).toMatchObject({ weekId: '2025-06-25', stage: 'peer_review', seat: 'gpt', model: 'openai/gpt-5.1', temperature: 0.7 });
    expect(request.output.name).toBe('peer_review_ranking_vs_choice');
    expect(request.output.jsonSchema).toEqual(toJsonSchema('peer_review_ranking_vs_choice'));
    expect(request.messages).toEqual(renderPrompt(PROMPTS.peerReview, peerReviewVariables(week.ctx, target(), week.pitches.get('gpt')!)));
    const text = request.messages.map((m) => m.content).join('\n');
    expect(text).toContain('Pitch B');
    for (const name of ['gemini', 'google/', 'gemini-3-pro-preview', 'pm_model"']) expect(text.toLowerCase()).not.toContain(name);
    // The reviewer's own pitch is there as its point of view.
    expect(text).toContain(week.pitches.get('gpt')!.selected_trade.invalidation_rule_this_week);
  });

  it('stamps reviewer_model with the model that answered and keeps the label', async () => {
    const client = new FakeLlmClient({ value: modelReview(), model: 'openai/gpt-5-mini' });
    const result = await pm(client).review(week.ctx, target(), null, opts);
    expect(result.output.reviewer_model).toBe('openai/gpt-5-mini');
    expect(result.output.pitch_id).toBe('Pitch B');
    expect(result.model).toBe('openai/gpt-5-mini');
    expect(result.usage).toEqual({ calls: 2, prompt_tokens: 4210, completion_tokens: 1830, cost_usd: 0.0421 });
  });

  it('rejects a review of another label or week, with precise messages', async () => {
    const client = new FakeLlmClient({ value: modelReview() });
    await pm(client).review(week.ctx, target(), null, opts);
    const check = (client.last() as LlmRequest<PeerReview>).output.check!;
    expect(check(modelReview())).toEqual([]);
    expect(check(modelReview({ pitch_id: 'Pitch A', week_id: '2025-07-02' }))).toEqual([
      'week_id: expected 2025-06-25, got 2025-07-02',
      'pitch_id: expected "Pitch B" (the label of the pitch under review), got "Pitch A"',
    ]);
    const wrongLabel = new FakeLlmClient({ value: modelReview({ pitch_id: 'gemini' }) });
    await expect(pm(wrongLabel).review(week.ctx, target(), null, opts)).rejects.toThrow(
      'pitch_id: expected "Pitch B" (the label of the pitch under review), got "gemini"',
    );
  });
});
