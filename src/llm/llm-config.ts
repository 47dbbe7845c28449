import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_CONFIG_DIR } from '../config/app-config.js';
import { ConfigError, displayPath, readYamlFile, validateConfig } from '../config/yaml-file.js';

/**
 * config/llm.yaml: how the LLM client retries, repairs, times out, caches and prices calls, plus any
 * custom OpenAI-compatible providers. Validated here so a typo fails at start-up with one line naming
 * the file, the key and what was expected — not in the middle of a paid run.
 */

/** Names of the presets in providers.ts; a custom provider may not reuse them. */
export const BUILTIN_PROVIDERS = ['requesty', 'openrouter', 'perplexity', 'gemini'] as const;

export const JsonMode = z.enum(['json_schema', 'json_object', 'prompt'], {
  error: 'expected json_schema, json_object or prompt',
});
export type JsonMode = z.infer<typeof JsonMode>;

export const CacheMode = z.enum(['read_write', 'write_only', 'off'], { error: 'expected read_write, write_only or off' });
export type CacheMode = z.infer<typeof CacheMode>;

const NonNegative = z.number({ error: 'expected a number' }).min(0, 'expected a number >= 0');
const Positive = z.number({ error: 'expected a number' }).positive('expected a positive number');
const PositiveInt = z.number({ error: 'expected an integer' }).int('expected an integer').min(1, 'expected an integer >= 1');

const CustomProvider = z.object({
  base_url: z.url({ error: 'expected an http(s) URL such as http://127.0.0.1:11434/v1' }),
  api_key_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the name of an environment variable (upper-case, e.g. OLLAMA_API_KEY)')
    .optional(),
  json_mode: JsonMode.default('json_object'),
  /** Extra HTTP headers for this server (values are not secrets; put secrets in api_key_env). */
  headers: z.record(z.string(), z.string()).optional(),
});
export type CustomProviderConfig = z.infer<typeof CustomProvider>;

const Price = z.object({
  input_per_mtok: NonNegative,
  output_per_mtok: NonNegative,
  cached_input_per_mtok: NonNegative.optional(),
});
export type Price = z.infer<typeof Price>;

const LlmConfigFile = z.object({
  retries: z.object({
    /** Tries per model, the first included. */
    max_attempts: PositiveInt,
    base_ms: NonNegative,
    max_ms: NonNegative,
    max_retry_after_ms: NonNegative,
  }),
  max_repairs: z.number({ error: 'expected an integer' }).int('expected an integer').min(0, 'expected an integer >= 0').default(2),
  timeouts: z.object({
    call_seconds: Positive,
    research_seconds: Positive,
    poll_seconds: Positive,
  }),
  budget_usd_per_run: Positive,
  /** The cap on a whole backtest's LLM spending (its portfolio's recorded calls); --budget-usd overrides it. */
  budget_usd_per_backtest: Positive.default(50),
  /** Output tokens assumed by the budget check when a request sets no maxTokens. */
  budget_estimate_output_tokens: PositiveInt.default(4096),
  cache: z.object({ live: CacheMode }),
  providers: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'provider names are lower-case words'), CustomProvider)
    .nullish()
    .transform((p) => p ?? {})
    .superRefine((providers, ctx) => {
      for (const name of Object.keys(providers)) {
        if ((BUILTIN_PROVIDERS as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `expected a name other than the built-in providers (${BUILTIN_PROVIDERS.join(', ')}); set their URLs with environment variables`,
          });
        }
      }
    }),
  prices: z
    .record(z.string().min(1), Price)
    .nullish()
    .transform((p) => p ?? {}),
});

export type LlmConfig = z.infer<typeof LlmConfigFile>;

export function loadLlmConfig(dir: string = process.env.LLM_TRADING_CONFIG_DIR ?? DEFAULT_CONFIG_DIR): LlmConfig {
  const path = join(dir, 'llm.yaml');
  return parseLlmConfig(readYamlFile(path), displayPath(path));
}

/** Validates already-parsed YAML; `shown` names the file in the error message. */
export function parseLlmConfig(data: unknown, shown = 'llm.yaml'): LlmConfig {
  const config = validateConfig(LlmConfigFile, data, shown);
  if (config.retries.base_ms > config.retries.max_ms) {
    throw new ConfigError(
      `${shown}: retries.base_ms: expected at most retries.max_ms (${config.retries.max_ms}), got ${config.retries.base_ms}`,
    );
  }
  return config;
}
