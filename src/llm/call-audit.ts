import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { LlmCallRecord, LlmCallSink } from '../ports/llm.js';
import type { Db } from '../storage/db.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { llmCalls } from '../storage/schema.js';
import { llmWritesOf } from './llm-writes.js';
import { redactDeep } from './redact.js';

/**
 * The audit trail of LLM calls: one `llm_calls` row (queried for per-seat and per-run usage) and one
 * 'llm_call' event (the append-only log holding every prompt and raw response) per HTTP exchange.
 * The prompt and response are stored once, in the event: they are most of a call's bytes.
 * Records are redacted again here — the client already did, but storage is the last line of defence.
 * The row and the event go in one statement with the other LLM writes of the same turn (llm-writes.ts).
 */
export class DbLlmCallSink implements LlmCallSink {
  constructor(
    private readonly db: Db,
    /** The portfolio whose runs make these calls (usage and budgets are per portfolio and week). */
    private readonly portfolio: string,
    private readonly secrets: readonly string[] = [],
  ) {}

  async record(call: LlmCallRecord): Promise<void> {
    // Redacted again: storage is the last line of defence (free for the client's records, see redactDeep).
    const redacted = redactDeep(call, this.secrets);
    const id = redacted.id ?? randomUUID();
    const safe = { ...redacted, id };
    await llmWritesOf(this.db).recordCall(
      {
        id,
        portfolio: this.portfolio,
        week_id: safe.weekId,
        stage: safe.stage,
        seat: safe.seat,
        provider: safe.provider,
        model: safe.model,
        attempt: safe.attempt,
        status: safe.status,
        http_status: safe.http_status,
        error: safe.error,
        latency_ms: Math.round(safe.latency_ms),
        prompt_tokens: safe.usage.prompt_tokens,
        completion_tokens: safe.usage.completion_tokens,
        reasoning_tokens: safe.usage.reasoning_tokens,
        cached_tokens: safe.usage.cached_tokens,
        cost_usd: safe.usage.cost_usd,
        cost_source: safe.cost_source,
        usage: safe.usage,
        cache_key: safe.cache_key,
        params: safe.request.params,
        citations: [...safe.citations],
      },
      {
        idempotency_key: `llm_call:${id}`,
        portfolio: this.portfolio,
        week_id: safe.weekId,
        kind: 'llm_call',
        stage: safe.stage,
        seat: safe.seat,
        payload: safe,
      },
    );
  }
}

/** Keeps records in memory (tests, and callers that persist them elsewhere). */
export class MemoryLlmCallSink implements LlmCallSink {
  readonly calls: LlmCallRecord[] = [];
  async record(call: LlmCallRecord): Promise<void> {
    this.calls.push(call);
  }
}

/** What a week's recorded calls cost so far (the start of its budget when a later command resumes it). */
export async function weekSpendUsd(db: Db, run: RunKey): Promise<number> {
  const [row] = await db
    .select({ cost: sql<string>`coalesce(sum(${llmCalls.costUsd}), 0)` })
    .from(llmCalls)
    .where(ofRun(llmCalls, run));
  return Number(row?.cost ?? 0);
}

/** What every recorded call of a portfolio cost (a backtest's spending so far, across processes). */
export async function portfolioSpendUsd(db: Db, portfolio: string): Promise<number> {
  const [row] = await db
    .select({ cost: sql<string>`coalesce(sum(${llmCalls.costUsd}), 0)` })
    .from(llmCalls)
    .where(eq(llmCalls.portfolio, portfolio));
  return Number(row?.cost ?? 0);
}

export interface SeatLlmUsage {
  stage: string;
  seat: string;
  calls: number;
  cacheHits: number;
  failedCalls: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  cachedTokens: number;
  costUsd: number;
  latencyMs: number;
  /** True when some call's cost was unknown (cost_source 'none'), so costUsd is a lower bound. */
  costIncomplete: boolean;
}

/** Per-stage, per-seat totals of one week's LLM calls (for `status`, the postmortem and `--json` usage). */
export async function llmUsageOfWeek(db: Db, run: RunKey, stage?: string): Promise<SeatLlmUsage[]> {
  const where = stage ? and(ofRun(llmCalls, run), eq(llmCalls.stage, stage)) : ofRun(llmCalls, run);
  const rows = await db
    .select({
      stage: llmCalls.stage,
      seat: llmCalls.seat,
      calls: sql<string>`count(*)`,
      cacheHits: sql<string>`count(*) filter (where ${llmCalls.status} = 'cache_hit')`,
      failedCalls: sql<string>`count(*) filter (where ${llmCalls.status} not in ('ok', 'cache_hit'))`,
      promptTokens: sql<string>`coalesce(sum(${llmCalls.promptTokens}), 0)`,
      completionTokens: sql<string>`coalesce(sum(${llmCalls.completionTokens}), 0)`,
      reasoningTokens: sql<string>`coalesce(sum(${llmCalls.reasoningTokens}), 0)`,
      cachedTokens: sql<string>`coalesce(sum(${llmCalls.cachedTokens}), 0)`,
      costUsd: sql<string>`coalesce(sum(${llmCalls.costUsd}), 0)`,
      latencyMs: sql<string>`coalesce(sum(${llmCalls.latencyMs}), 0)`,
      unknownCost: sql<string>`count(*) filter (where ${llmCalls.costSource} = 'none' and ${llmCalls.status} = 'ok')`,
    })
    .from(llmCalls)
    .where(where)
    .groupBy(llmCalls.stage, llmCalls.seat)
    .orderBy(llmCalls.stage, llmCalls.seat);
  // Aggregates come back as strings from node-postgres (bigint/numeric) and as numbers from PGlite.
  return rows.map((r) => ({
    stage: r.stage,
    seat: r.seat,
    calls: Number(r.calls),
    cacheHits: Number(r.cacheHits),
    failedCalls: Number(r.failedCalls),
    promptTokens: Number(r.promptTokens),
    completionTokens: Number(r.completionTokens),
    reasoningTokens: Number(r.reasoningTokens),
    cachedTokens: Number(r.cachedTokens),
    costUsd: Number(r.costUsd),
    latencyMs: Number(r.latencyMs),
    costIncomplete: Number(r.unknownCost) > 0,
  }));
}
