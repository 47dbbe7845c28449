import { describe, expect, it } from 'vitest';
import { costedUsage, priceFor, priceTableCost } from '../../src/llm/usage-cost.js';

const price = { input_per_mtok: 2, output_per_mtok: 10, cached_input_per_mtok: 0.5 };

describe('usage and cost', () => {
  it('uses the OpenRouter-reported cost (a number in usage.cost) over the price table', () => {
    const body = {
      usage: {
        prompt_tokens: 1000,
        completion_tokens: 500,
        cost: 0.0123,
        prompt_tokens_details: { cached_tokens: 200 },
        completion_tokens_details: { reasoning_tokens: 300 },
      },
    };
    expect(costedUsage(body, price)).toEqual({
      usage: { calls: 1, prompt_tokens: 1000, completion_tokens: 500, reasoning_tokens: 300, cached_tokens: 200, cost_usd: 0.0123 },
      cost_source: 'provider',
    });
  });

  it('uses the Perplexity-reported usage.cost.total_cost and its top-level reasoning_tokens', () => {
    const body = {
      usage: {
        prompt_tokens: 50,
        completion_tokens: 4000,
        reasoning_tokens: 9000,
        cost: { input_tokens_cost: 0.0001, total_cost: 0.4172 },
      },
    };
    const { usage, cost_source } = costedUsage(body, price);
    expect(cost_source).toBe('provider');
    expect(usage.cost_usd).toBe(0.4172);
    expect(usage.reasoning_tokens).toBe(9000);
  });

  it('falls back to the price table: cached tokens at the cached rate, reasoning inside completion tokens', () => {
    const body = {
      usage: {
        prompt_tokens: 1_000_000,
        completion_tokens: 200_000,
        prompt_tokens_details: { cached_tokens: 400_000 },
        completion_tokens_details: { reasoning_tokens: 150_000 },
      },
    };
    const { usage, cost_source } = costedUsage(body, price);
    expect(cost_source).toBe('price_table');
    // 600k uncached × $2 + 400k cached × $0.5 + 200k output × $10 (reasoning is part of the 200k, not extra)
    expect(usage.cost_usd).toBeCloseTo(1.2 + 0.2 + 2.0, 12);
    expect(
      priceTableCost(
        { prompt_tokens: 1_000_000, completion_tokens: 0, cached_tokens: 1_000_000 },
        { input_per_mtok: 3, output_per_mtok: 15 },
      ),
    ).toBe(3);
  });

  it('reports cost 0 with source none when nothing is known', () => {
    expect(costedUsage({ usage: { prompt_tokens: 10, completion_tokens: 5 } }, undefined)).toEqual({
      usage: { calls: 1, prompt_tokens: 10, completion_tokens: 5, reasoning_tokens: 0, cached_tokens: 0, cost_usd: 0 },
      cost_source: 'none',
    });
    expect(costedUsage({}, undefined).usage.prompt_tokens).toBe(0);
  });

  it('looks prices up by provider/model first, then by model', () => {
    const prices = {
      'openai/gpt-5.1': { input_per_mtok: 1, output_per_mtok: 1 },
      'requesty/openai/gpt-5.1': { input_per_mtok: 2, output_per_mtok: 2 },
    };
    expect(priceFor(prices, 'requesty', 'openai/gpt-5.1')?.input_per_mtok).toBe(2);
    expect(priceFor(prices, 'openrouter', 'openai/gpt-5.1')?.input_per_mtok).toBe(1);
    expect(priceFor(prices, 'openrouter', 'x-ai/grok-4')).toBeUndefined();
  });
});
