import type { App } from '../app.js';
import { llmUsageOfWeek } from '../llm/call-audit.js';
import type { Db } from '../storage/db.js';
import type { RunKey } from '../storage/run-key.js';
import { addUsage, ZERO_USAGE, type Usage } from './stage.js';

export interface SeatUsage {
  stage: string;
  seat: string;
  calls: number;
  cache_hits: number;
  failed_calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  latency_ms: number;
  cost_incomplete: boolean;
}

export type WeekUsage = Usage & { cache_hits: number; by_seat: SeatUsage[] };

/** Every LLM call of a week, in total and per (stage, seat): for `--json`, `status` and the postmortem. */
export async function weekUsage(db: Db, run: RunKey): Promise<WeekUsage> {
  const by_seat: SeatUsage[] = (await llmUsageOfWeek(db, run)).map((u) => ({
    stage: u.stage,
    seat: u.seat,
    calls: u.calls,
    cache_hits: u.cacheHits,
    failed_calls: u.failedCalls,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    reasoning_tokens: u.reasoningTokens,
    cached_tokens: u.cachedTokens,
    cost_usd: u.costUsd,
    latency_ms: u.latencyMs,
    cost_incomplete: u.costIncomplete,
  }));
  const total = by_seat.reduce(
    (sum, u) =>
      addUsage(sum, { calls: u.calls, prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, cost_usd: u.cost_usd }),
    ZERO_USAGE,
  );
  return { ...total, cache_hits: by_seat.reduce((n, u) => n + u.cache_hits, 0), by_seat };
}

/**
 * The usage of a week of the app's own portfolio. A backtest of offline agents can make no LLM call
 * (its workers refuse to run other agents), so its weeks' usage is known without asking the database.
 */
export async function portfolioWeekUsage(app: App, weekId: string): Promise<WeekUsage> {
  if (app.portfolioKind === 'backtest' && app.agents.mode === 'offline') return { ...ZERO_USAGE, cache_hits: 0, by_seat: [] };
  return weekUsage(app.store.db, { portfolio: app.portfolio, weekId });
}
