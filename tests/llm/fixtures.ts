import { z } from 'zod';
import { parseEnv, type Env } from '../../src/config/env.js';
import { parseLlmConfig, type LlmConfig } from '../../src/llm/llm-config.js';
import type { LlmRequest, StructuredOutput } from '../../src/ports/llm.js';

/** Recognisable fake keys: redaction tests search every stored byte for them. */
export const FAKE_KEYS = {
  openrouter: 'sk-or-v1-FAKEOPENROUTERKEY0123456789abcdef',
  requesty: 'rq-FAKE-REQUESTY-KEY-9876543210',
  perplexity: 'pplx-FAKEPERPLEXITYKEY0123456789',
  gemini: 'AIzaFAKEGEMINIKEY-0123456789abcdefgh',
} as const;

/** Small, fast settings: tests measure behaviour, not waiting. */
export function testLlmConfig(overrides: Record<string, unknown> = {}): LlmConfig {
  return parseLlmConfig(
    {
      retries: { max_attempts: 3, base_ms: 5, max_ms: 20, max_retry_after_ms: 3000 },
      max_repairs: 2,
      timeouts: { call_seconds: 2, research_seconds: 5, poll_seconds: 0.02 },
      budget_usd_per_run: 100,
      cache: { live: 'read_write' },
      providers: {},
      prices: {
        'openai/gpt-5.1': { input_per_mtok: 1.25, output_per_mtok: 10, cached_input_per_mtok: 0.125 },
        'requesty/anthropic/claude-sonnet-4-5': { input_per_mtok: 3, output_per_mtok: 15 },
      },
      ...overrides,
    },
    'test llm.yaml',
  );
}

/** Every built-in provider pointed at the stand-in, each under its own base path, with fake keys. */
export function standInEnv(url: string, extra: NodeJS.ProcessEnv = {}): Env {
  return parseEnv({
    OPENROUTER_API_KEY: FAKE_KEYS.openrouter,
    OPENROUTER_BASE_URL: `${url}/api/v1`,
    REQUESTY_API_KEY: FAKE_KEYS.requesty,
    REQUESTY_BASE_URL: `${url}/v1`,
    PERPLEXITY_API_KEY: FAKE_KEYS.perplexity,
    PERPLEXITY_BASE_URL: `${url}/perplexity`,
    GEMINI_API_KEY: FAKE_KEYS.gemini,
    GEMINI_BASE_URL: `${url}/gemini`,
    ...extra,
  });
}

/** A miniature trade: enough shape and one cross-field rule to exercise validation and repair. */
const TradeShape = z.object({
  ticker: z.enum(['SPY', 'TLT', 'GLD']),
  direction: z.enum(['LONG', 'SHORT', 'FLAT']),
  conviction: z.number().int().min(-2).max(2),
  reason: z.string().min(1),
});
export type Trade = z.infer<typeof TradeShape>;

export const TRADE_OUTPUT: StructuredOutput<Trade> = {
  name: 'mini_trade',
  jsonSchema: z.toJSONSchema(TradeShape, { target: 'draft-2020-12' }) as Record<string, unknown>,
  schema: TradeShape,
  check: (t) => {
    if (t.direction === 'LONG' && t.conviction <= 0) return ['conviction: must be > 0 for a LONG trade'];
    if (t.direction === 'SHORT' && t.conviction >= 0) return ['conviction: must be < 0 for a SHORT trade'];
    if (t.direction === 'FLAT' && t.conviction !== 0) return ['conviction: must be 0 for a FLAT trade'];
    return [];
  },
};

export const GOOD_TRADE: Trade = { ticker: 'GLD', direction: 'LONG', conviction: 2, reason: 'real yields falling, USD softening' };

/** The prompt names the week, as real prompts do: requests of different weeks never share a cache entry. */
export function tradeRequest(overrides: Partial<LlmRequest<Trade>> = {}): LlmRequest<Trade> {
  const weekId = overrides.weekId ?? '2024-03-06';
  return {
    weekId,
    stage: 'pm_pitches',
    seat: 'gpt',
    provider: 'openrouter',
    model: 'openai/gpt-5.1',
    messages: [
      { role: 'system', content: 'You are a macro portfolio manager. Answer in JSON.' },
      { role: 'user', content: `Pick one trade for the week of ${weekId}.` },
    ],
    temperature: 0.7,
    maxTokens: 800,
    output: TRADE_OUTPUT,
    signal: new AbortController().signal,
    ...overrides,
  };
}
