/**
 * The LLM adapter's public surface. `createLlmClient` wires the client to the database (response
 * cache + audit sink); everything else is exported for callers that assemble it differently.
 */
import type { Env } from '../config/env.js';
import type { Db } from '../storage/db.js';
import { DbLlmCallSink, weekSpendUsd } from './call-audit.js';
import type { LlmConfig } from './llm-config.js';
import { OpenAiCompatibleClient } from './openai-compatible-client.js';
import { resolveProviders, secretsOf } from './providers.js';
import { DbLlmResponseCache, type CacheOverride } from './response-cache.js';
import type { BacktestBudget } from './backtest-budget.js';
import { WeeklyBudgets, type RunBudget } from './run-budget.js';

export { DbLlmCallSink, MemoryLlmCallSink, llmUsageOfWeek, portfolioSpendUsd, weekSpendUsd, type SeatLlmUsage } from './call-audit.js';
export { BUILTIN_PROVIDERS, loadLlmConfig, parseLlmConfig, type LlmConfig } from './llm-config.js';
export { wireSchemaName } from './chat-wire.js';
export { OpenAiCompatibleClient, type OpenAiCompatibleClientOptions } from './openai-compatible-client.js';
export { describeProviders, resolveProviders, secretsOf, type ProviderDescription, type ProviderPreset } from './providers.js';
export { redactDeep, redactSecrets, REDACTED } from './redact.js';
export { cacheKey, DbLlmResponseCache, MemoryLlmResponseCache, type CacheOverride, type LlmResponseCache } from './response-cache.js';
export { BudgetExceededError, RunBudget, WeeklyBudgets } from './run-budget.js';
export { BacktestBudget, BacktestBudgetExceededError } from './backtest-budget.js';
export { LlmSeatError, type SeatFailureKind } from './seat-error.js';
export { addUsage, priceFor, ZERO_USAGE } from './usage-cost.js';

export interface CreateLlmClientOptions {
  env: Env;
  config: LlmConfig;
  /**
   * The run's database and portfolio: validated answers are cached in llm_cache (shared by every
   * portfolio), every call audited in llm_calls + events under the portfolio.
   */
  storage?: { db: Db; portfolio: string };
  /** Default: per week's run, continuing what the database says the week already spent. */
  budget?: RunBudget | WeeklyBudgets;
  /** A backtest's cap on all its calls (both it and `budget` must hold). */
  backtestBudget?: BacktestBudget;
  /** 'use' for backtests/replays, 'bypass' for --no-cache; default: config cache.live. */
  cacheOverride?: CacheOverride;
  processEnv?: NodeJS.ProcessEnv;
}

export function createLlmClient(options: CreateLlmClientOptions): OpenAiCompatibleClient {
  const { env, config, storage, budget, backtestBudget, cacheOverride, processEnv } = options;
  const secrets = secretsOf(resolveProviders(env, config, processEnv));
  return new OpenAiCompatibleClient({
    env,
    config,
    ...(budget
      ? { budget }
      : storage
        ? {
            budget: new WeeklyBudgets(config.budget_usd_per_run, (weekId) =>
              weekSpendUsd(storage.db, { portfolio: storage.portfolio, weekId }),
            ),
          }
        : {}),
    ...(backtestBudget ? { backtestBudget } : {}),
    ...(cacheOverride ? { cacheOverride } : {}),
    ...(processEnv ? { processEnv } : {}),
    ...(storage ? { cache: new DbLlmResponseCache(storage.db), sink: new DbLlmCallSink(storage.db, storage.portfolio, secrets) } : {}),
  });
}
