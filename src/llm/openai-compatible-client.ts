import { randomUUID } from 'node:crypto';
import type { Env } from '../config/env.js';
import type { ChatMessage, LlmCallRecord, LlmCallSink, LlmClient, LlmRequest, LlmResult, LlmUsage } from '../ports/llm.js';
import { runAsyncJob, type AsyncExchange } from './async-job.js';
import { ChatTransport, type ExchangeFailure } from './chat-transport.js';
import { assistantText, chatBody, citationsOf, paramsOf, withSchemaInstruction } from './chat-wire.js';
import type { CacheMode, LlmConfig, Price } from './llm-config.js';
import { repairMessage, validateAnswer, validateValue } from './output-validation.js';
import { hasCredentials, requiresKey, resolveProviders, secretsOf, type ProviderPreset } from './providers.js';
import { redactDeep, redactSecrets } from './redact.js';
import { cacheKey, effectiveCacheMode, type CachedAnswer, type CacheOverride, type LlmResponseCache } from './response-cache.js';
import { retryWait, sleep as defaultSleep } from './retry-policy.js';
import type { BacktestBudget } from './backtest-budget.js';
import { BudgetExceededError, estimateCallUsd, RunBudget, WeeklyBudgets, type BudgetReservation } from './run-budget.js';
import { LlmSeatError, type SeatFailureKind } from './seat-error.js';
import { addUsage, costedUsage, priceFor, ZERO_USAGE, type CostedUsage } from './usage-cost.js';

export interface OpenAiCompatibleClientOptions {
  env: Env;
  config: LlmConfig;
  /**
   * The spending cap: per week's run (WeeklyBudgets, the default: a new WeeklyBudgets of
   * config.budget_usd_per_run that knows no earlier spending), or one RunBudget for every call.
   */
  budget?: RunBudget | WeeklyBudgets;
  /** A backtest's cap on all its calls, checked with `budget` before every network call (both must hold). */
  backtestBudget?: BacktestBudget;
  /** Where validated answers are cached; no cache when absent. */
  cache?: LlmResponseCache;
  /** 'use' for backtests and replays (always read), 'bypass' for --no-cache; default: config cache.live. */
  cacheOverride?: CacheOverride;
  /** Receives every call record (DbLlmCallSink in production). */
  sink?: LlmCallSink;
  /** Where custom providers' api_key_env variables are read (default process.env). */
  processEnv?: NodeJS.ProcessEnv;
  /** Injectable for tests: the wait between retries and polls, the jitter source, the latency clock. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** What one successful HTTP exchange produced, before validation. */
interface Answer {
  text: string;
  finishReason: string | null;
  bodyText: string;
  /** null for an answer replayed from the cache (no HTTP exchange). */
  httpStatus: number | null;
  latencyMs: number;
  costed: CostedUsage;
  citations: string[];
  params: Record<string, unknown>;
}

type ModelOutcome<T> =
  | { ok: true; value: T; answer: Answer; model: string }
  | { ok: false; kind: SeatFailureKind; reason: string; /** no other model can help (bad key, caller gave up) */ final: boolean };

/** Per-request bookkeeping: the records made so far, in order. */
interface CallContext<T> {
  request: LlmRequest<T>;
  preset: ProviderPreset;
  cacheKey: string;
  calls: LlmCallRecord[];
  /**
   * The first exchange of the request's model (its key, and the invalid answer kept under it or null),
   * looked up with the request's own key: a backtest's call makes one cache read, not two.
   */
  firstExchange?: { model: string; key: string; kept: CachedAnswer | null };
}

/**
 * The LlmClient for every OpenAI-compatible endpoint (Requesty, OpenRouter, Perplexity, Gemini,
 * Ollama, vLLM, LM Studio). Per request: cache lookup → for the model and then each fallback model:
 * budget check, HTTP exchange with retries (backoff + jitter, Retry-After), JSON extraction, zod
 * validation and up to `max_repairs` re-asks quoting the errors → cache write. Every exchange is
 * recorded (redacted) to the sink. It returns a validated value or throws LlmSeatError /
 * BudgetExceededError; it never invents a value.
 */
export class OpenAiCompatibleClient implements LlmClient {
  private readonly budget: RunBudget | WeeklyBudgets;
  private readonly backtestBudget: BacktestBudget | undefined;
  private readonly config: LlmConfig;
  private readonly providers: Map<string, ProviderPreset>;
  private readonly secrets: string[];
  private readonly transport = new ChatTransport();
  private readonly cache: LlmResponseCache | undefined;
  private readonly cacheMode: CacheMode;
  /** Backtests and replays (cacheOverride 'use'): invalid answers are replayed too, exchange by exchange. */
  private readonly replay: boolean;
  private readonly sink: LlmCallSink | undefined;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: OpenAiCompatibleClientOptions) {
    this.config = options.config;
    this.providers = resolveProviders(options.env, options.config, options.processEnv);
    this.secrets = secretsOf(this.providers);
    this.budget = options.budget ?? new WeeklyBudgets(options.config.budget_usd_per_run);
    this.backtestBudget = options.backtestBudget;
    this.cache = options.cache;
    this.cacheMode = options.cache ? effectiveCacheMode(options.config.cache.live, options.cacheOverride) : 'off';
    this.replay = Boolean(options.cache) && options.cacheOverride === 'use';
    this.sink = options.sink;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
  }

  /** The configured keys and base-URL credentials, for redacting anything else the caller stores (artifacts, logs). */
  get secretValues(): readonly string[] {
    return this.secrets;
  }

  async complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>> {
    const who = `${request.seat} (${request.provider})`;
    const preset = this.providers.get(request.provider);
    if (!preset) {
      const known = [...this.providers.keys()].join(', ');
      throw new LlmSeatError(`unknown provider "${request.provider}" (known: ${known})`, [], 'unknown_provider', who);
    }
    if (requiresKey(preset) && !hasCredentials(preset)) {
      throw new LlmSeatError(`provider ${preset.name} has no API key: set ${preset.keyEnv}`, [], 'missing_key', who);
    }
    const ctx: CallContext<T> = { request, preset, cacheKey: this.keyOf(request, preset), calls: [] };

    const cached = await this.fromCache(ctx);
    if (cached) return cached;

    const failures: string[] = [];
    let lastKind: SeatFailureKind = 'invalid_output';
    for (const model of [request.model, ...(request.fallbackModels ?? [])]) {
      const outcome = await this.tryModel(ctx, model);
      if (outcome.ok) {
        if (this.cacheMode !== 'off' && this.cache) {
          const { answer } = outcome;
          await this.cache.put(ctx.cacheKey, {
            provider: preset.name,
            model: request.model,
            answer: redactDeep(
              { raw: answer.text, value: outcome.value, model, citations: answer.citations, usage: answer.costed.usage },
              this.secrets,
            ),
          });
        }
        return this.result(ctx, outcome.value, outcome.answer.text, model, outcome.answer.citations, false);
      }
      failures.push(`${model}: ${outcome.reason}`);
      lastKind = outcome.kind;
      if (outcome.final) break;
    }
    throw new LlmSeatError(this.redact(failures.join('; then ')), ctx.calls, lastKind, who);
  }

  private keyOf<T>(request: LlmRequest<T>, preset: ProviderPreset): string {
    return cacheKey({
      provider: preset.name,
      model: request.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      schemaName: request.output.name,
      jsonSchema: request.output.jsonSchema,
      temperature: request.temperature ?? null,
      maxTokens: request.maxTokens ?? null,
      params: { jsonMode: preset.jsonMode, async: Boolean(request.async && preset.supportsAsync) },
    });
  }

  private async fromCache<T>(ctx: CallContext<T>): Promise<LlmResult<T> | undefined> {
    if (this.cacheMode !== 'read_write' || !this.cache) return undefined;
    const started = this.now();
    // Replaying, a miss goes on to the first model's first exchange (an invalid answer kept by an
    // earlier run): its key is asked for in the same read.
    const exchange = this.replay
      ? this.exchangeKey(ctx, ctx.request.model, withSchemaInstruction(ctx.request.messages, ctx.preset, ctx.request.output))
      : undefined;
    const found = await this.cache.getMany(exchange ? [ctx.cacheKey, exchange] : [ctx.cacheKey]);
    if (exchange) ctx.firstExchange = { model: ctx.request.model, key: exchange, kept: found.get(exchange) ?? null };
    const hit = found.get(ctx.cacheKey);
    if (!hit) return undefined;
    // The schema is part of the key, but refinements in code (check) may have changed since.
    const valid = validateValue(hit.value, ctx.request.output);
    if (!valid.ok) return undefined;
    await this.record(ctx, {
      model: hit.model,
      status: 'cache_hit',
      http_status: null,
      error: null,
      latency_ms: this.now() - started,
      usage: ZERO_USAGE,
      cost_source: 'none',
      messages: ctx.request.messages,
      params: { model: hit.model, cache_key: ctx.cacheKey },
      response_text: hit.raw,
      citations: hit.citations,
    });
    return this.result(ctx, valid.value, hit.raw, hit.model, hit.citations, true);
  }

  /**
   * One model: exchange, validate, re-ask with the errors up to max_repairs times. An answer that fails
   * validation is kept in the cache under the exact conversation that produced it (validated answers
   * are kept whole by complete()); a backtest or replay reads it back instead of asking, so a seat
   * that failed in the first run fails the same way in a re-run, without a request.
   */
  private async tryModel<T>(ctx: CallContext<T>, model: string): Promise<ModelOutcome<T>> {
    const conversation: ChatMessage[] = withSchemaInstruction(ctx.request.messages, ctx.preset, ctx.request.output);
    for (let repair = 0; ; repair++) {
      const replayed = await this.replayedAnswer(ctx, model, conversation, repair === 0);
      const exchanged = replayed ? { ok: true as const, answer: replayed } : await this.exchangeWithRetries(ctx, model, conversation);
      if (!exchanged.ok) return exchanged;
      const { answer } = exchanged;
      const validation = validateAnswer(answer.text, ctx.request.output, answer.finishReason);
      if (!validation.ok && !replayed) await this.keepInvalidAnswer(ctx, model, conversation, answer);
      await this.record(ctx, {
        model,
        status: replayed ? 'cache_hit' : validation.ok ? 'ok' : 'invalid_output',
        http_status: answer.httpStatus,
        error: validation.ok ? null : validation.errors.join('\n'),
        latency_ms: answer.latencyMs,
        usage: answer.costed.usage,
        cost_source: answer.costed.cost_source,
        messages: conversation,
        params: answer.params,
        response_text: answer.bodyText,
        citations: answer.citations,
      });
      if (validation.ok) return { ok: true, value: validation.value, answer, model };
      if (repair >= this.config.max_repairs) {
        const tries = repair === 0 ? 'no re-ask allowed' : `still invalid after ${repair} re-ask${repair > 1 ? 's' : ''}`;
        return {
          ok: false,
          kind: 'invalid_output',
          reason: `invalid ${ctx.request.output.name} (${tries}): ${validation.errors.join('; ')}`,
          final: false,
        };
      }
      conversation.push(
        { role: 'assistant', content: answer.text },
        repairMessage(ctx.request.output.name, validation.errors, validation.truncated),
      );
    }
  }

  /** The cache key of one exchange: this model and this exact conversation (schema instruction and re-asks included). */
  private exchangeKey<T>(ctx: CallContext<T>, model: string, conversation: readonly ChatMessage[]): string {
    const { request, preset } = ctx;
    return cacheKey({
      provider: preset.name,
      model,
      messages: conversation.map((m) => ({ role: m.role, content: m.content })),
      schemaName: request.output.name,
      jsonSchema: request.output.jsonSchema,
      temperature: request.temperature ?? null,
      maxTokens: request.maxTokens ?? null,
      params: { jsonMode: preset.jsonMode, async: Boolean(request.async && preset.supportsAsync), exchange: true },
    });
  }

  /** An invalid answer kept by an earlier run for this exact exchange (backtests and replays only). */
  private async replayedAnswer<T>(
    ctx: CallContext<T>,
    model: string,
    conversation: readonly ChatMessage[],
    first: boolean,
  ): Promise<Answer | undefined> {
    if (!this.replay || !this.cache) return undefined;
    const started = this.now();
    // A model's first conversation is the request's messages with the schema instruction: the one
    // fromCache looked up for the request's model.
    const looked = first && ctx.firstExchange?.model === model ? ctx.firstExchange : undefined;
    const key = looked?.key ?? this.exchangeKey(ctx, model, conversation);
    const hit = looked ? looked.kept : (await this.cache.getMany([key])).get(key);
    if (!hit) return undefined;
    return {
      text: hit.raw,
      finishReason: hit.finish_reason ?? null,
      bodyText: hit.raw,
      httpStatus: null,
      latencyMs: this.now() - started,
      costed: { usage: ZERO_USAGE, cost_source: 'none' },
      citations: [...hit.citations],
      params: { model, cache_key: key, replayed_exchange: true },
    };
  }

  private async keepInvalidAnswer<T>(
    ctx: CallContext<T>,
    model: string,
    conversation: readonly ChatMessage[],
    answer: Answer,
  ): Promise<void> {
    if (this.cacheMode === 'off' || !this.cache) return;
    await this.cache.put(this.exchangeKey(ctx, model, conversation), {
      provider: ctx.preset.name,
      model,
      answer: redactDeep(
        {
          raw: answer.text,
          value: null,
          model,
          citations: answer.citations,
          usage: answer.costed.usage,
          finish_reason: answer.finishReason,
        },
        this.secrets,
      ),
    });
  }

  /** One exchange of `conversation` with `model`, retried on transient failures. Failed tries are recorded here. */
  private async exchangeWithRetries<T>(
    ctx: CallContext<T>,
    model: string,
    conversation: readonly ChatMessage[],
  ): Promise<{ ok: true; answer: Answer } | Extract<ModelOutcome<T>, { ok: false }>> {
    const { request, preset } = ctx;
    const retries = this.config.retries;
    const useAsync = Boolean(request.async && preset.supportsAsync);
    const timeoutMs =
      1000 * (request.timeoutSeconds ?? (request.async ? this.config.timeouts.research_seconds : this.config.timeouts.call_seconds));
    const body = chatBody(preset, model, conversation, request);
    const params = paramsOf(body, request.output.name, useAsync, timeoutMs);
    const price = priceFor(this.config.prices, preset.name, model);

    for (let attempt = 1; ; attempt++) {
      if (request.signal.aborted) return { ok: false, kind: 'aborted', reason: `aborted: ${reasonOf(request.signal)}`, final: true };
      const reserved = await this.reserve(ctx, model, conversation, price, params);
      const started = this.now();
      let exchange: AsyncExchange;
      try {
        exchange = useAsync
          ? await runAsyncJob(this.transport, preset, body, {
              deadlineMs: timeoutMs,
              callTimeoutMs: 1000 * this.config.timeouts.call_seconds,
              pollMs: 1000 * this.config.timeouts.poll_seconds,
              maxPollErrors: retries.max_attempts,
              signal: request.signal,
              sleep: this.sleep,
            })
          : await this.transport.chat(preset, body, { timeoutMs, signal: request.signal });
      } catch (error) {
        // The transport classifies failures instead of throwing; anything else is a bug — free the reservation.
        reserved.settle(0);
        throw error;
      }
      const latencyMs = this.now() - started;
      const callParams = {
        ...params,
        ...(exchange.jobId ? { job_id: exchange.jobId } : {}),
        // Which path of the job API served the job, and every one tried when an older one had to stand in.
        ...(exchange.asyncPath ? { async_path: exchange.asyncPath } : {}),
        ...(exchange.asyncPathsTried ? { async_paths_tried: exchange.asyncPathsTried } : {}),
      };

      if (exchange.ok) {
        const costed = costedUsage(exchange.body, price);
        reserved.settle(costed.usage.cost_usd);
        const { text, finishReason } = assistantText(exchange.body);
        return {
          ok: true,
          // Redacted before extraction: the value goes on to be stored, and a model can repeat a key it saw.
          answer: {
            text: this.redact(text),
            finishReason,
            bodyText: exchange.bodyText,
            httpStatus: exchange.httpStatus,
            latencyMs,
            costed,
            citations: citationsOf(exchange.body),
            params: callParams,
          },
        };
      }
      reserved.settle(0);
      await this.recordFailure(ctx, model, conversation, exchange, latencyMs, callParams);
      if (exchange.kind === 'aborted') return { ok: false, kind: 'aborted', reason: exchange.message, final: true };
      const authFailure = exchange.httpStatus === 401 || exchange.httpStatus === 403;
      if (!exchange.retryable || attempt >= retries.max_attempts) {
        const tries = attempt > 1 ? ` (after ${attempt} tries)` : '';
        return { ok: false, kind: exchange.kind, reason: `${exchange.message}${tries}`, final: authFailure };
      }
      try {
        await this.sleep(retryWait(attempt, exchange.headers, retries, this.random), request.signal);
      } catch {
        return { ok: false, kind: 'aborted', reason: `aborted while waiting to retry: ${reasonOf(request.signal)}`, final: true };
      }
    }
  }

  /**
   * Reserve the estimated cost in the backtest's budget (when there is one) and the week's run budget;
   * when either cap would be passed, record the refusal (nothing is sent) and throw BudgetExceededError.
   */
  private async reserve<T>(
    ctx: CallContext<T>,
    model: string,
    conversation: readonly ChatMessage[],
    price: Price | undefined,
    params: Record<string, unknown>,
  ): Promise<BudgetReservation> {
    const maxTokens = ctx.request.maxTokens ?? this.config.budget_estimate_output_tokens;
    const estimate = estimateCallUsd(conversation, maxTokens, price);
    const budget = this.budget instanceof RunBudget ? this.budget : await this.budget.of(ctx.request.weekId);
    const what = `${ctx.request.seat}'s call to ${ctx.preset.name}/${model}`;
    try {
      const whole = await this.backtestBudget?.reserve(estimate, what);
      let run: BudgetReservation;
      try {
        run = budget.reserve(estimate, what);
      } catch (error) {
        whole?.settle(0);
        throw error;
      }
      if (!whole) return run;
      return {
        estimateUsd: estimate,
        settle: (actualUsd: number) => {
          run.settle(actualUsd);
          whole.settle(actualUsd);
        },
      };
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
      await this.record(ctx, {
        model,
        status: 'budget_exceeded',
        http_status: null,
        error: error.message,
        latency_ms: 0,
        usage: ZERO_USAGE,
        cost_source: 'none',
        messages: conversation,
        params,
        response_text: null,
        citations: [],
      });
      throw error;
    }
  }

  private recordFailure<T>(
    ctx: CallContext<T>,
    model: string,
    conversation: readonly ChatMessage[],
    failure: ExchangeFailure,
    latencyMs: number,
    params: Record<string, unknown>,
  ): Promise<LlmCallRecord> {
    const status: LlmCallRecord['status'] = failure.kind === 'aborted' ? 'timeout' : failure.kind;
    return this.record(ctx, {
      model,
      status,
      http_status: failure.httpStatus,
      error: failure.message,
      latency_ms: latencyMs,
      usage: { ...ZERO_USAGE, calls: 1 },
      cost_source: 'none',
      messages: conversation,
      params,
      response_text: null,
      citations: [],
    });
  }

  /** Builds, redacts, keeps and hands to the sink one call record. */
  private async record<T>(
    ctx: CallContext<T>,
    fields: Omit<LlmCallRecord, 'id' | 'weekId' | 'stage' | 'seat' | 'provider' | 'attempt' | 'cache_key' | 'request'> & {
      messages: readonly ChatMessage[];
      params: Record<string, unknown>;
    },
  ): Promise<LlmCallRecord> {
    const { messages, params, ...rest } = fields;
    const record: LlmCallRecord = redactDeep(
      {
        id: randomUUID(),
        weekId: ctx.request.weekId,
        stage: ctx.request.stage,
        seat: ctx.request.seat,
        provider: ctx.preset.name,
        attempt: ctx.calls.length + 1,
        cache_key: ctx.cacheKey,
        request: { messages: messages.map((m) => ({ role: m.role, content: m.content })), params },
        ...rest,
        latency_ms: Math.round(rest.latency_ms),
        citations: [...rest.citations],
      },
      this.secrets,
    );
    ctx.calls.push(record);
    await this.sink?.record(record);
    return record;
  }

  private result<T>(
    ctx: CallContext<T>,
    value: T,
    raw: string,
    model: string,
    citations: readonly string[],
    cached: boolean,
  ): LlmResult<T> {
    const usage = ctx.calls.reduce<LlmUsage>((sum, c) => addUsage(sum, c.usage), ZERO_USAGE);
    return {
      value,
      raw: this.redact(raw),
      provider: ctx.preset.name,
      model,
      usage,
      citations: [...citations],
      calls: [...ctx.calls],
      cached,
    };
  }

  private redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }
}

function reasonOf(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'signal aborted');
}
