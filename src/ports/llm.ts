import type { z } from 'zod';

/**
 * One chat completion with structured output, behind one interface. Adapter: any OpenAI-compatible
 * HTTP endpoint (Requesty, OpenRouter, Perplexity, Gemini's OpenAI endpoint, Ollama, vLLM, LM Studio).
 * The client owns retries, fallbacks, JSON extraction and repair, validation, usage/cost, the
 * response cache, the budget and the audit records; callers get a validated value or an error.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface StructuredOutput<T> {
  /** Schema name, e.g. 'pm_pitch_with_ranking'. */
  name: string;
  /** JSON Schema 2020-12 sent to the model (config/schemas/<name>.schema.json). */
  jsonSchema: Record<string, unknown>;
  /** Validates the parsed JSON (shape + refinements). */
  schema: z.ZodType<T>;
  /** Extra rules beyond the schema (e.g. every universe ticker ranked once); [] when sound. */
  check?: (value: T) => string[];
}

export interface LlmRequest<T> {
  /** Who is asking, for the audit trail and per-seat usage: e.g. week '2024-03-06', stage 'pm_pitches', seat 'gpt'. */
  weekId: string;
  stage: string;
  seat: string;
  /** Provider preset name: 'requesty' | 'openrouter' | 'perplexity' | 'gemini' | a custom name from config/llm.yaml. */
  provider: string;
  /** The provider's model id. */
  model: string;
  /** Models tried in order when `model` fails after its retries (same provider). */
  fallbackModels?: readonly string[];
  messages: readonly ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  output: StructuredOutput<T>;
  /** Use the provider's asynchronous job API (submit, then poll), for deep research that takes minutes. */
  async?: boolean;
  /**
   * Per-HTTP-call timeout in seconds (for an async job: the whole job). Defaults to config/llm.yaml
   * timeouts.call_seconds (research_seconds for async). `signal` still bounds everything.
   */
  timeoutSeconds?: number;
  signal: AbortSignal;
}

export interface LlmUsage {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

/** One HTTP exchange (including failed attempts and cache hits), as stored in the audit log. */
export interface LlmCallRecord {
  /** Unique per record (the audit row's primary key and the event's idempotency key); set by the client. */
  id?: string;
  weekId: string;
  stage: string;
  seat: string;
  provider: string;
  model: string;
  attempt: number;
  status: 'ok' | 'http_error' | 'network_error' | 'timeout' | 'invalid_output' | 'cache_hit' | 'budget_exceeded';
  http_status: number | null;
  error: string | null;
  latency_ms: number;
  usage: LlmUsage;
  /** 'provider' when the provider reported the cost, 'price_table' when computed from config, 'none' when unknown. */
  cost_source: 'provider' | 'price_table' | 'none';
  cache_key: string;
  /** The request messages and the raw response body text, with secrets redacted. */
  request: { messages: readonly ChatMessage[]; params: Record<string, unknown> };
  response_text: string | null;
  citations: readonly string[];
}

export interface LlmResult<T> {
  value: T;
  /** The assistant message text the value was extracted from. */
  raw: string;
  provider: string;
  /** The model that produced the value (may be a fallback). */
  model: string;
  usage: LlmUsage;
  /** Citations returned by search-backed models (Perplexity), else []. */
  citations: readonly string[];
  calls: readonly LlmCallRecord[];
  /** True when the value came from the response cache (no network call was made). */
  cached?: boolean;
}

export interface LlmClient {
  complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>>;
}

/** Where the client records every call (database + events); implemented by storage. */
export interface LlmCallSink {
  record(call: LlmCallRecord): Promise<void>;
}
