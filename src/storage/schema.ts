// The database schema (drizzle). Migrations in ./migrations are generated from this file with
// `npm run db:generate` and applied on open and by `llm-trading db migrate`.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  doublePrecision,
  index,
  integer,
  json,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

const money = (name: string) => numeric(name, { precision: 20, scale: 6, mode: 'number' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
/**
 * The portfolio a row belongs to (src/portfolio/). No default: a write that forgets it fails instead of
 * landing in another portfolio's books.
 */
const portfolio = () => text('portfolio').notNull();

/**
 * A named set of six accounts with its own books and its own clock (time only moves forward in it):
 * `default` for a user's weekly runs, `demo` for npm start, one per backtest.
 */
export const portfolios = pgTable('portfolios', {
  name: text('name').primaryKey(),
  /** 'live' (a user's weekly runs), 'demo' (npm start) or 'backtest'. */
  kind: text('kind').notNull(),
  /** The broker adapter that trades its accounts ('sim', 'alpaca', 'alpaca-subledger'): a portfolio never mixes two. */
  broker: text('broker').notNull(),
  startingCash: money('starting_cash').notNull(),
  createdAt: createdAt(),
});

/** One weekly run: its dates, the random seed of the anonymizer and how far it got. */
export const runs = pgTable(
  'runs',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    asofEt: text('asof_et').notNull(),
    dataThrough: text('data_through').notNull(),
    fillDate: text('fill_date').notNull(),
    mode: text('mode').notNull(),
    seed: text('seed').notNull(),
    status: text('status').notNull(),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId] })],
);

/** Each stage's persisted output; a row with status 'completed' means the stage need not run again. */
export const stageRuns = pgTable(
  'stage_runs',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    stage: text('stage').notNull(),
    status: text('status').notNull(),
    output: jsonb('output'),
    error: text('error'),
    /** The attempt that produced the output: its events (raw answers) carry it in their keys. */
    attempt: text('attempt'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.stage] })],
);

/** Append-only audit log: prompts, raw responses, outputs, decisions, orders, fills. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    /** Null for events of no portfolio (none yet). */
    portfolio: text('portfolio'),
    weekId: text('week_id'),
    kind: text('kind').notNull(),
    stage: text('stage'),
    seat: text('seat'),
    payload: jsonb('payload').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('events_portfolio_week_idx').on(t.portfolio, t.weekId, t.kind)],
);

export const pitches = pgTable(
  'pitches',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    seat: text('seat').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    status: text('status').notNull(),
    pitch: jsonb('pitch'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.seat] })],
);

/** Which anonymous label each reviewer saw for which seat (labels are shuffled per reviewer). */
export const reviewLabels = pgTable(
  'review_labels',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    reviewer: text('reviewer').notNull(),
    pitchId: text('pitch_id').notNull(),
    targetSeat: text('target_seat').notNull(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.reviewer, t.pitchId] })],
);

export const reviews = pgTable(
  'reviews',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    reviewer: text('reviewer').notNull(),
    pitchId: text('pitch_id').notNull(),
    targetSeat: text('target_seat').notNull(),
    status: text('status').notNull(),
    meanScore: doublePrecision('mean_score'),
    review: jsonb('review'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.reviewer, t.pitchId] })],
);

export const aggregates = pgTable(
  'aggregates',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    seat: text('seat').notNull(),
    meanRank: doublePrecision('mean_rank'),
    meanScore: doublePrecision('mean_score'),
    votes: integer('votes').notNull(),
    reviewCount: integer('review_count').notNull(),
    rubricMeans: jsonb('rubric_means').notNull(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.seat] })],
);

export const decisions = pgTable(
  'decisions',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    decision: jsonb('decision').notNull(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId] })],
);

/** The risk stage's output: what each account should hold after this checkpoint. */
export const tradeIntents = pgTable(
  'trade_intents',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    checkpoint: text('checkpoint').notNull(),
    accountId: integer('account_id').notNull(),
    owner: text('owner').notNull(),
    /** Null when the account's owner failed and it goes flat. */
    ticker: text('ticker'),
    direction: text('direction').notNull(),
    conviction: integer('conviction').notNull(),
    targetQty: money('target_qty').notNull(),
    referencePrice: money('reference_price'),
    notes: text('notes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.weekId, t.checkpoint, t.accountId] })],
);

export const accounts = pgTable(
  'accounts',
  {
    portfolio: portfolio(),
    id: integer('id').notNull(),
    owner: text('owner').notNull(),
    broker: text('broker').notNull(),
    startingCash: money('starting_cash').notNull(),
    cash: money('cash').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.id] })],
);

/**
 * Every order any broker was sent, filled or not. The client_order_id is unique across portfolios: it
 * carries a tag of the portfolio's name (src/broker/order-plan.ts).
 */
export const orders = pgTable(
  'orders',
  {
    clientOrderId: text('client_order_id').primaryKey(),
    portfolio: portfolio(),
    accountId: integer('account_id').notNull(),
    weekId: text('week_id').notNull(),
    checkpoint: text('checkpoint').notNull(),
    action: text('action').notNull(),
    /** The order's place among the account's orders at its checkpoint (null for orders older than portfolios). */
    sequence: integer('sequence'),
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
  },
  (t) => [index('orders_portfolio_week_idx').on(t.portfolio, t.weekId, t.accountId, t.checkpoint)],
);

export const fills = pgTable(
  'fills',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    clientOrderId: text('client_order_id').notNull().unique(),
    portfolio: portfolio(),
    accountId: integer('account_id').notNull(),
    ticker: text('ticker').notNull(),
    side: text('side').notNull(),
    qty: money('qty').notNull(),
    price: money('price').notNull(),
    commission: money('commission').notNull(),
    filledAt: timestamp('filled_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('fills_portfolio_account_idx').on(t.portfolio, t.accountId, t.filledAt),
    // A ledger reads the fills after the last one it holds (ledger/portfolio-ledger.ts): without this
    // index that read scanned every fill of the portfolio, once per account read, each week.
    index('fills_portfolio_id_idx').on(t.portfolio, t.id),
  ],
);

/** Signed quantity: negative for a short. A row with qty 0 is deleted. */
export const positions = pgTable(
  'positions',
  {
    portfolio: portfolio(),
    accountId: integer('account_id').notNull(),
    ticker: text('ticker').notNull(),
    qty: money('qty').notNull(),
    avgEntryPrice: money('avg_entry_price').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.accountId, t.ticker] })],
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
    portfolio: portfolio(),
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
  (t) => [index('llm_calls_week_idx').on(t.portfolio, t.weekId, t.stage, t.seat)],
);

/**
 * One checkpoint slot of a portfolio's week (src/checkpoint/): 'completed' once every account has its
 * update, 'skipped' with the reason when the slot cannot run (before the weekly fills on the decision
 * day, after an early close), 'running' while (or if killed while) it runs.
 */
export const checkpointRuns = pgTable(
  'checkpoint_runs',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    /** The decision instant (UTC). */
    checkpointAt: timestamp('checkpoint_at', { withTimezone: true }).notNull(),
    /** The session date and New York time, as the user names them. */
    date: text('date').notNull(),
    time: text('time').notNull(),
    status: text('status').notNull(),
    reason: text('reason'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.checkpointAt] }), index('checkpoint_runs_week_idx').on(t.portfolio, t.weekId)],
);

/**
 * One account at one checkpoint: what its owner answered, what the engine applied, the engine's
 * verdict on the invalidation trigger, the indicators it saw and the orders that followed.
 */
export const checkpointUpdates = pgTable(
  'checkpoint_updates',
  {
    portfolio: portfolio(),
    weekId: text('week_id').notNull(),
    checkpointAt: timestamp('checkpoint_at', { withTimezone: true }).notNull(),
    accountId: integer('account_id').notNull(),
    owner: text('owner').notNull(),
    /** The model or offline persona that answered ('' when nobody was asked: a flat account). */
    agent: text('agent').notNull(),
    /** 'ok' (the owner answered), 'failed' (it did not: STAY), 'flat' (nothing held: STAY), 'pending' (an earlier order of the day fills at the close: STAY). */
    status: text('status').notNull(),
    /** The owner's action (null when it was not asked or failed). */
    proposedAction: text('proposed_action'),
    /** The action the engine applied. */
    action: text('action').notNull(),
    convictionBefore: integer('conviction_before').notNull(),
    convictionAfter: integer('conviction_after').notNull(),
    reason: text('reason').notNull(),
    /** The engine's verdict: the trigger that fired, or null. */
    invalidationFired: text('invalidation_fired'),
    /** What the owner said fired (kept apart: the engine's verdict is the one that counts). */
    claimedInvalidation: text('claimed_invalidation'),
    trigger: jsonb('trigger'),
    position: jsonb('position'),
    indicators: jsonb('indicators').notNull(),
    orderIds: jsonb('order_ids').notNull(),
    error: text('error'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.portfolio, t.checkpointAt, t.accountId] }),
    index('checkpoint_updates_week_idx').on(t.portfolio, t.weekId),
  ],
);

/**
 * A backtest (src/backtest/): a range of weeks replayed as whole weeks in its own portfolio. The
 * report is stored when it finishes, so `backtest show` and the dashboard read it without re-running.
 */
export const backtests = pgTable('backtests', {
  name: text('name').primaryKey(),
  portfolio: text('portfolio').notNull(),
  fromWeek: text('from_week').notNull(),
  toWeek: text('to_week').notNull(),
  mode: text('mode').notNull(),
  /** 'running' (shown as interrupted when no process drives it), 'failed' (see error), 'completed'. */
  status: text('status').notNull(),
  weeksTotal: integer('weeks_total').notNull(),
  weeksDone: integer('weeks_done').notNull(),
  /**
   * `json`, not `jsonb`: kept as the text the run printed, so `backtest show --json` prints the same
   * bytes (jsonb reorders keys, shortest first). Only ever read whole.
   */
  report: json('report'),
  /** How its weeks run, for every process that works on it: { offline, allow_offline_seats }. */
  settings: jsonb('settings'),
  /** sha256 of the configuration it started with: a worker with another configuration refuses its jobs. */
  configDigest: text('config_digest'),
  /**
   * The current run: set each time a command starts or continues it. Its queue jobs carry it; a job of
   * an earlier run (still running, or retried, when the backtest was continued) has nothing to do and
   * never fails the current run.
   */
  run: text('run'),
  /** Why it stopped ('failed'), or the last error a job met before a retry. */
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * What the schedule daemon did with each slot of a portfolio's schedule (src/schedule/): the weekly
 * run, a checkpoint, a postmortem. One row per slot: a slot is run once (a second daemon finds it
 * claimed or done), a failed one is retried with backoff while it is still useful, a missed one is
 * recorded as skipped with the reason.
 */
export const scheduleRuns = pgTable(
  'schedule_runs',
  {
    portfolio: portfolio(),
    /** `weekly:<week>`, `postmortem:<week>` or `checkpoint:<date>T<HH:MM>`. */
    slot: text('slot').notNull(),
    kind: text('kind').notNull(),
    weekId: text('week_id').notNull(),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    /** 'running', 'completed', 'failed', 'skipped'. */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** The outcome in a line (what ran, or why it failed or was skipped). */
    detail: text('detail'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.portfolio, t.slot] }), index('schedule_runs_due').on(t.portfolio, t.dueAt)],
);

// ---------------------------------------------------------------------------------------------- market data
// Market data is the world's, not a portfolio's: these tables carry no portfolio, and every portfolio
// (backtests included) reads the same bars. Written by `llm-trading data sync` (src/market/sync/),
// read by MARKET_DATA=alpaca (src/market/db-market-data.ts).

/**
 * Alpaca daily bars, one per ticker and New York session date. open/high/low/close/volume come with the
 * `adjustment` recorded on the row (split by default: traded prices, continuous over splits); adj_close
 * is the close adjusted for splits and dividends (Alpaca's adjustment=all), for total returns.
 */
export const marketDailyBars = pgTable(
  'market_daily_bars',
  {
    ticker: text('ticker').notNull(),
    /** The NYSE session, YYYY-MM-DD (New York); Alpaca stamps a daily bar at New York midnight. */
    date: text('date').notNull(),
    open: doublePrecision('open').notNull(),
    high: doublePrecision('high').notNull(),
    low: doublePrecision('low').notNull(),
    close: doublePrecision('close').notNull(),
    adjClose: doublePrecision('adj_close').notNull(),
    volume: bigint('volume', { mode: 'number' }).notNull(),
    vwap: doublePrecision('vwap'),
    tradeCount: integer('trade_count'),
    /** Where the row came from: 'alpaca', its feed (iex, sip) and the adjustment of open..close. */
    source: text('source').notNull(),
    feed: text('feed').notNull(),
    adjustment: text('adjustment').notNull(),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.ticker, t.date] })],
);

/**
 * Alpaca minute bars of regular sessions (extended hours are not kept): `ts` is the bar's start (UTC),
 * so the bar's close is the last trade before ts + 1 minute. `date` is its New York session date.
 */
export const marketMinuteBars = pgTable(
  'market_minute_bars',
  {
    ticker: text('ticker').notNull(),
    ts: timestamp('ts', { withTimezone: true }).notNull(),
    date: text('date').notNull(),
    open: doublePrecision('open').notNull(),
    high: doublePrecision('high').notNull(),
    low: doublePrecision('low').notNull(),
    close: doublePrecision('close').notNull(),
    volume: bigint('volume', { mode: 'number' }).notNull(),
    vwap: doublePrecision('vwap'),
    tradeCount: integer('trade_count'),
    feed: text('feed').notNull(),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.ticker, t.ts] }), index('market_minute_bars_day').on(t.ticker, t.date)],
);

/** Alpaca's trading calendar: one row per NYSE trading day (holidays have none), times in New York. */
export const marketCalendar = pgTable('market_calendar', {
  date: text('date').primaryKey(),
  /** 'HH:MM' New York: 09:30 and 16:00, or 13:00 on an early close. */
  open: text('open').notNull(),
  close: text('close').notNull(),
  /** The extended session ('HH:MM'), when Alpaca sends it. */
  sessionOpen: text('session_open'),
  sessionClose: text('session_close'),
  openAt: timestamp('open_at', { withTimezone: true }).notNull(),
  closeAt: timestamp('close_at', { withTimezone: true }).notNull(),
  fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull(),
});

/**
 * What `data sync` has asked Alpaca for, per series: `daily:<TICKER>`, `minute:<TICKER>` or `calendar`.
 * first/last bound the dates requested (a date in the range with no row is a day without data, e.g. a
 * holiday for the calendar), so a re-run fetches only what lies outside, plus a small overlap.
 */
export const marketSyncState = pgTable('market_sync_state', {
  series: text('series').primaryKey(),
  ticker: text('ticker'),
  feed: text('feed'),
  adjustment: text('adjustment'),
  firstDate: text('first_date').notNull(),
  lastDate: text('last_date').notNull(),
  syncedAt: timestamp('synced_at', { withTimezone: true }).notNull(),
});
