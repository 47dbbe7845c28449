// The database schema (drizzle). Migrations in ./migrations are generated from this file with
// `npm run db:generate` and applied on open and by `llm-trading db migrate`.
import { sql } from 'drizzle-orm';
import { bigserial, doublePrecision, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const money = (name: string) => numeric(name, { precision: 20, scale: 6, mode: 'number' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** One weekly run: its dates, the random seed of the anonymizer and how far it got. */
export const runs = pgTable('runs', {
  weekId: text('week_id').primaryKey(),
  asofEt: text('asof_et').notNull(),
  dataThrough: text('data_through').notNull(),
  fillDate: text('fill_date').notNull(),
  mode: text('mode').notNull(),
  seed: text('seed').notNull(),
  status: text('status').notNull(),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Each stage's persisted output; a row with status 'completed' means the stage need not run again. */
export const stageRuns = pgTable(
  'stage_runs',
  {
    weekId: text('week_id').notNull(),
    stage: text('stage').notNull(),
    status: text('status').notNull(),
    output: jsonb('output'),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.stage] })],
);

/** Append-only audit log: prompts, raw responses, outputs, decisions, orders, fills. */
export const events = pgTable('events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  idempotencyKey: text('idempotency_key').notNull().unique(),
  weekId: text('week_id'),
  kind: text('kind').notNull(),
  stage: text('stage'),
  seat: text('seat'),
  payload: jsonb('payload').notNull(),
  createdAt: createdAt(),
});

export const pitches = pgTable(
  'pitches',
  {
    weekId: text('week_id').notNull(),
    seat: text('seat').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    status: text('status').notNull(),
    pitch: jsonb('pitch'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.seat] })],
);

/** Which anonymous label each reviewer saw for which seat (labels are shuffled per reviewer). */
export const reviewLabels = pgTable(
  'review_labels',
  {
    weekId: text('week_id').notNull(),
    reviewer: text('reviewer').notNull(),
    pitchId: text('pitch_id').notNull(),
    targetSeat: text('target_seat').notNull(),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.reviewer, t.pitchId] })],
);

export const reviews = pgTable(
  'reviews',
  {
    weekId: text('week_id').notNull(),
    reviewer: text('reviewer').notNull(),
    pitchId: text('pitch_id').notNull(),
    targetSeat: text('target_seat').notNull(),
    status: text('status').notNull(),
    meanScore: doublePrecision('mean_score'),
    review: jsonb('review'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.reviewer, t.pitchId] })],
);

export const aggregates = pgTable(
  'aggregates',
  {
    weekId: text('week_id').notNull(),
    seat: text('seat').notNull(),
    meanRank: doublePrecision('mean_rank'),
    meanScore: doublePrecision('mean_score'),
    votes: integer('votes').notNull(),
    reviewCount: integer('review_count').notNull(),
    rubricMeans: jsonb('rubric_means').notNull(),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.seat] })],
);

export const decisions = pgTable('decisions', {
  weekId: text('week_id').primaryKey(),
  provider: text('provider').notNull(),
  model: text('model').notNull(),
  decision: jsonb('decision').notNull(),
});

/** The risk stage's output: what each account should hold after this checkpoint. */
export const tradeIntents = pgTable(
  'trade_intents',
  {
    weekId: text('week_id').notNull(),
    checkpoint: text('checkpoint').notNull(),
    accountId: integer('account_id').notNull(),
    owner: text('owner').notNull(),
    ticker: text('ticker').notNull(),
    direction: text('direction').notNull(),
    conviction: integer('conviction').notNull(),
    targetQty: money('target_qty').notNull(),
    referencePrice: money('reference_price').notNull(),
    notes: text('notes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.weekId, t.checkpoint, t.accountId] })],
);

export const accounts = pgTable('accounts', {
  id: integer('id').primaryKey(),
  owner: text('owner').notNull(),
  broker: text('broker').notNull(),
  startingCash: money('starting_cash').notNull(),
  cash: money('cash').notNull(),
  createdAt: createdAt(),
});

export const orders = pgTable('orders', {
  clientOrderId: text('client_order_id').primaryKey(),
  accountId: integer('account_id').notNull(),
  weekId: text('week_id').notNull(),
  checkpoint: text('checkpoint').notNull(),
  action: text('action').notNull(),
  ticker: text('ticker').notNull(),
  side: text('side').notNull(),
  qty: money('qty').notNull(),
  orderType: text('order_type').notNull(),
  status: text('status').notNull(),
  submittedAt: timestamp('submitted_at', { withTimezone: true }).notNull(),
  filledAt: timestamp('filled_at', { withTimezone: true }),
  filledQty: money('filled_qty'),
  filledAvgPrice: money('filled_avg_price'),
  commission: money('commission'),
  rejectReason: text('reject_reason'),
  brokerOrderId: text('broker_order_id'),
});

export const fills = pgTable('fills', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  clientOrderId: text('client_order_id').notNull().unique(),
  accountId: integer('account_id').notNull(),
  ticker: text('ticker').notNull(),
  side: text('side').notNull(),
  qty: money('qty').notNull(),
  price: money('price').notNull(),
  commission: money('commission').notNull(),
  filledAt: timestamp('filled_at', { withTimezone: true }).notNull(),
});

/** Signed quantity: negative for a short. A row with qty 0 is deleted. */
export const positions = pgTable(
  'positions',
  {
    accountId: integer('account_id').notNull(),
    ticker: text('ticker').notNull(),
    qty: money('qty').notNull(),
    avgEntryPrice: money('avg_entry_price').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.ticker] })],
);

/**
 * Content-addressed cache of validated LLM answers (src/llm/response-cache.ts). The key is the sha256
 * of the canonical request; only answers that passed validation are written, so a replayed week
 * makes zero network calls and never replays a broken answer.
 */
export const llmCache = pgTable('llm_cache', {
  key: text('key').primaryKey(),
  provider: text('provider').notNull(),
  model: text('model').notNull(),
  response: jsonb('response').notNull(),
  createdAt: createdAt(),
});

/**
 * Every LLM HTTP exchange (failed attempts and cache hits included), secrets redacted. Token and cost
 * columns are flattened from `usage` so per-seat and per-run totals are plain SUMs. The prompt and the
 * raw response are not repeated here: they are in the call's 'llm_call' event (idempotency key
 * 'llm_call:' || id), which holds the whole record.
 */
export const llmCalls = pgTable(
  'llm_calls',
  {
    id: text('id').primaryKey(),
    weekId: text('week_id').notNull(),
    stage: text('stage').notNull(),
    seat: text('seat').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    attempt: integer('attempt').notNull(),
    status: text('status').notNull(),
    httpStatus: integer('http_status'),
    error: text('error'),
    latencyMs: integer('latency_ms').notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    reasoningTokens: integer('reasoning_tokens').notNull(),
    cachedTokens: integer('cached_tokens').notNull(),
    // Ten decimals: a cheap call costs fractions of a micro-dollar, and totals are sums of these.
    costUsd: numeric('cost_usd', { precision: 20, scale: 10, mode: 'number' }).notNull(),
    costSource: text('cost_source').notNull(),
    usage: jsonb('usage').notNull(),
    cacheKey: text('cache_key').notNull(),
    /** The request's parameters (model, schema, temperature, async job id…), not its messages. */
    params: jsonb('params').notNull(),
    citations: jsonb('citations').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('llm_calls_week_idx').on(t.weekId, t.stage, t.seat)],
);
