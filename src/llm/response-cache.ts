import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { ChatMessage, LlmUsage } from '../ports/llm.js';
import type { Db } from '../storage/db.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { llmCache } from '../storage/schema.js';
import { TurnBatch } from '../storage/turn-batch.js';
import type { CacheMode } from './llm-config.js';
import { llmWritesOf } from './llm-writes.js';

/**
 * Content-addressed cache of validated answers. The key covers everything that shapes the answer
 * (provider, model, messages, schema, sampling parameters), so a hit is exactly the answer this
 * request would have been given before. Backtests and replays read it to make zero network calls.
 * Answers that failed validation are kept too, keyed by the exact exchange (model and conversation,
 * re-asks included; value null): only backtests and replays read those, so a seat that failed there
 * fails the same way in a re-run, while a live re-run asks again.
 */
export interface CacheKeyParts {
  provider: string;
  model: string;
  messages: readonly ChatMessage[];
  schemaName: string;
  jsonSchema: Record<string, unknown>;
  temperature: number | null;
  maxTokens: number | null;
  /** Anything else that changes the answer (async mode, structured-output mode). */
  params: Record<string, unknown>;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** What a hit gives back: the answer text, the value extracted from it, and who produced it. */
export interface CachedAnswer {
  raw: string;
  value: unknown;
  /** The model that answered (a fallback model when the primary failed). */
  model: string;
  citations: string[];
  /** The original call's usage, for reference; a hit itself costs nothing. */
  usage: LlmUsage;
  /** Kept with an invalid answer (value null), keyed by its exchange: a truncated answer stays truncated. */
  finish_reason?: string | null;
}

export interface LlmResponseCache {
  /** The answers kept under any of `keys` (one lookup: a backtest's call asks for two keys at once). */
  getMany(keys: readonly string[]): Promise<Map<string, CachedAnswer>>;
  put(key: string, entry: { provider: string; model: string; answer: CachedAnswer }): Promise<void>;
}

/**
 * How the client uses the cache: the config's `cache.live` mode, unless the caller overrides it —
 * 'use' (backtests, replays: read and write) or 'bypass' (`--no-cache`: never read, still write, so a
 * later replay of this run makes no network calls).
 */
export type CacheOverride = 'use' | 'bypass';

export function effectiveCacheMode(live: CacheMode, override: CacheOverride | undefined): CacheMode {
  if (override === 'use') return 'read_write';
  if (override === 'bypass') return 'write_only';
  return live;
}

export class DbLlmResponseCache implements LlmResponseCache {
  /** The lookups of one turn of the event loop, as one statement. */
  readonly #lookups: TurnBatch<Set<string>, Map<string, CachedAnswer>>;

  constructor(private readonly db: Db) {
    this.#lookups = new TurnBatch(
      () => new Set<string>(),
      async (keys) => new Map((await cachedAnswers(this.db, { keys: [...keys] })).map((row) => [row.key, row.response as CachedAnswer])),
    );
  }

  /**
   * The seats of a stage ask at once (five pitches, six checkpoint updates): the lookups asked for in
   * one turn of the event loop go to the database as one statement, sent when the turn ends.
   */
  async getMany(keys: readonly string[]): Promise<Map<string, CachedAnswer>> {
    if (keys.length === 0) return new Map();
    const found = await this.#lookups.join((gathered) => keys.forEach((key) => gathered.add(key)));
    return new Map(keys.flatMap((key) => (found.has(key) ? [[key, found.get(key) as CachedAnswer] as const] : [])));
  }

  async put(key: string, entry: { provider: string; model: string; answer: CachedAnswer }): Promise<void> {
    // With the other LLM writes of the same turn (llm-writes.ts); the first answer kept under a key stays.
    await llmWritesOf(this.db).keepAnswer({ key, provider: entry.provider, model: entry.model, response: entry.answer });
  }
}

// Runs for every LLM call: its text is built once (storage/reusable-query.ts).
export const cachedAnswers = reusableRows({ key: llmCache.key, response: llmCache.response }, (db, $: Slots<{ keys: string[] }>, f) =>
  db
    .select(f)
    .from(llmCache)
    .where(sql`${llmCache.key} = any(${$.keys}::text[])`),
);

/** In-process cache (tests, or runs without a store). */
export class MemoryLlmResponseCache implements LlmResponseCache {
  readonly entries = new Map<string, CachedAnswer>();
  async getMany(keys: readonly string[]): Promise<Map<string, CachedAnswer>> {
    const found = new Map<string, CachedAnswer>();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) found.set(key, entry);
    }
    return found;
  }
  async put(key: string, entry: { answer: CachedAnswer }): Promise<void> {
    if (!this.entries.has(key)) this.entries.set(key, entry.answer);
  }
}
