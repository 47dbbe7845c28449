import type { LlmCallRecord, LlmUsage } from '../ports/llm.js';
import type { Price } from './llm-config.js';

/**
 * Token usage and cost of one chat completion. The provider's own figure wins (OpenRouter reports
 * `usage.cost` in USD, Perplexity `usage.cost.total_cost`), because only the provider knows about
 * search fees, cache writes and routing margins; the config price table is the fallback; otherwise
 * the cost is 0 and marked 'none' so reports can say the total is incomplete.
 *
 * Conventions (OpenAI's): reasoning tokens are a part of completion_tokens and cached tokens a part of
 * prompt_tokens — they are reported separately but never billed twice.
 */
export const ZERO_USAGE: LlmUsage = {
  calls: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  reasoning_tokens: 0,
  cached_tokens: 0,
  cost_usd: 0,
};

export interface CostedUsage {
  usage: LlmUsage;
  cost_source: LlmCallRecord['cost_source'];
}

export function costedUsage(body: unknown, price: Price | undefined): CostedUsage {
  const u = asRecord(asRecord(body)?.usage);
  const prompt = count(u?.prompt_tokens);
  const completion = count(u?.completion_tokens);
  // OpenAI/OpenRouter nest reasoning under completion_tokens_details; Perplexity puts it at top level.
  const reasoning = count(asRecord(u?.completion_tokens_details)?.reasoning_tokens) || count(u?.reasoning_tokens);
  const cached = count(asRecord(u?.prompt_tokens_details)?.cached_tokens);
  const tokens = { calls: 1, prompt_tokens: prompt, completion_tokens: completion, reasoning_tokens: reasoning, cached_tokens: cached };

  const reported = providerCost(u?.cost);
  if (reported !== null) return { usage: { ...tokens, cost_usd: reported }, cost_source: 'provider' };
  if (price) return { usage: { ...tokens, cost_usd: priceTableCost(tokens, price) }, cost_source: 'price_table' };
  return { usage: { ...tokens, cost_usd: 0 }, cost_source: 'none' };
}

/** Cached prompt tokens at the cached rate (the input rate when the table gives none), the rest at the input rate. */
export function priceTableCost(tokens: Pick<LlmUsage, 'prompt_tokens' | 'completion_tokens' | 'cached_tokens'>, price: Price): number {
  const cached = Math.min(tokens.cached_tokens, tokens.prompt_tokens);
  const uncached = tokens.prompt_tokens - cached;
  const cachedRate = price.cached_input_per_mtok ?? price.input_per_mtok;
  return (uncached * price.input_per_mtok + cached * cachedRate + tokens.completion_tokens * price.output_per_mtok) / 1_000_000;
}

/** The price-table entry for a model: "<provider>/<model>" first, then "<model>". */
export function priceFor(prices: Record<string, Price>, provider: string, model: string): Price | undefined {
  return prices[`${provider}/${model}`] ?? prices[model];
}

export function addUsage(a: LlmUsage, b: LlmUsage): LlmUsage {
  return {
    calls: a.calls + b.calls,
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
    cached_tokens: a.cached_tokens + b.cached_tokens,
    cost_usd: a.cost_usd + b.cost_usd,
  };
}

/** OpenRouter: a number. Perplexity: {total_cost, input_tokens_cost, …}. Anything else: unknown. */
function providerCost(cost: unknown): number | null {
  if (typeof cost === 'number' && Number.isFinite(cost) && cost >= 0) return cost;
  const total = asRecord(cost)?.total_cost;
  if (typeof total === 'number' && Number.isFinite(total) && total >= 0) return total;
  return null;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
