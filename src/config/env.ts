import { resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';

/**
 * The process environment, parsed once. Every variable of the README's configuration table is here.
 * Secrets stay in this object and are only read by the adapters that need them.
 */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const optionalEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.enum(values).optional());

const positiveNumber = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a positive number, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const EnvSchema = z.object({
  DATABASE_URL: optionalString,
  DB_MIN_POOL_SIZE: positiveNumber(10),
  DB_MAX_POOL_SIZE: positiveNumber(50),
  DB_COMMAND_TIMEOUT: positiveNumber(60),
  LLM_TRADING_HOME: optionalString,
  REQUESTY_API_KEY: optionalString,
  REQUSTY_API_KEY: optionalString,
  REQUESTY_BASE_URL: optionalString,
  OPENROUTER_API_KEY: optionalString,
  OPENROUTER_BASE_URL: optionalString,
  PERPLEXITY_API_KEY: optionalString,
  PERPLEXITY_BASE_URL: optionalString,
  GEMINI_API_KEY: optionalString,
  GEMINI_BASE_URL: optionalString,
  MARKET_DATA_DIR: optionalString,
  LLM_TRADING_PROMPTS_DIR: optionalString,
  LLM_PROVIDER: optionalEnum(['offline', 'requesty', 'openrouter'] as const),
  BROKER: optionalEnum(['sim', 'alpaca'] as const),
  MARKET_DATA: optionalEnum(['bundled', 'alpaca'] as const),
  LLM_TRADING_PORTFOLIO: optionalString,
});

export interface Env {
  databaseUrl: string | undefined;
  pool: { min: number; max: number; commandTimeoutMs: number };
  home: string;
  marketDataDir: string | undefined;
  /** LLM_TRADING_PROMPTS_DIR; unset: the prompts/ folder of the config directory. */
  promptsDir: string | undefined;
  llmProvider: 'offline' | 'requesty' | 'openrouter';
  broker: 'sim' | 'alpaca';
  marketData: 'bundled' | 'alpaca';
  /** LLM_TRADING_PORTFOLIO: the portfolio commands act on when --portfolio is not given. */
  portfolio: string | undefined;
  keys: { requesty?: string; openrouter?: string; perplexity?: string; gemini?: string };
  baseUrls: { requesty: string; openrouter: string; perplexity: string; gemini: string };
}

export class EnvError extends UserError {}

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue?.path.join('.') ?? '?';
    throw new EnvError(`environment variable ${key}: ${issue?.message ?? 'invalid'}`);
  }
  const e = result.data;
  const requesty = e.REQUESTY_API_KEY ?? e.REQUSTY_API_KEY;
  const keys = { requesty, openrouter: e.OPENROUTER_API_KEY, perplexity: e.PERPLEXITY_API_KEY, gemini: e.GEMINI_API_KEY };
  const llmProvider = e.LLM_PROVIDER ?? (requesty ? 'requesty' : e.OPENROUTER_API_KEY ? 'openrouter' : 'offline');
  return {
    databaseUrl: e.DATABASE_URL,
    pool: { min: e.DB_MIN_POOL_SIZE, max: e.DB_MAX_POOL_SIZE, commandTimeoutMs: e.DB_COMMAND_TIMEOUT * 1000 },
    home: resolve(e.LLM_TRADING_HOME ?? '.llm-trading'),
    marketDataDir: e.MARKET_DATA_DIR,
    promptsDir: e.LLM_TRADING_PROMPTS_DIR === undefined ? undefined : resolve(e.LLM_TRADING_PROMPTS_DIR),
    llmProvider,
    broker: e.BROKER ?? 'sim',
    marketData: e.MARKET_DATA ?? 'bundled',
    portfolio: e.LLM_TRADING_PORTFOLIO,
    keys,
    baseUrls: {
      requesty: e.REQUESTY_BASE_URL ?? 'https://router.requesty.ai/v1',
      openrouter: e.OPENROUTER_BASE_URL ?? 'https://openrouter.ai/api/v1',
      perplexity: e.PERPLEXITY_BASE_URL ?? 'https://api.perplexity.ai',
      gemini: e.GEMINI_BASE_URL ?? 'https://generativelanguage.googleapis.com/v1beta/openai',
    },
  };
}

/** A one-line description of where a Postgres URL points, with any password removed. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgresql://${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgresql://<unparseable DATABASE_URL>';
  }
}
