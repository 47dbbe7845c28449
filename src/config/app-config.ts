import { join } from 'node:path';
import { z } from 'zod';
import { ClockTime, Ticker } from '../schemas/common.js';
import { loadMarketDataConfig, type MarketDataConfig } from './market-data-config.js';
import { DEFAULT_CONFIG_DIR } from './paths.js';
import { ConfigError, displayPath, readYamlFile, validateConfig } from './yaml-file.js';

const AssetsFile = z.object({
  benchmark: Ticker,
  assets: z
    .array(z.object({ ticker: Ticker, category: z.string().min(1), name: z.string().min(1) }))
    .min(2)
    .refine((a) => new Set(a.map((x) => x.ticker)).size === a.length, 'tickers must be unique'),
});

const Weekday = z.enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday']);
const ScheduleFile = z.object({
  timezone: z.literal('America/New_York'),
  weekly: z.object({ day: Weekday, time: ClockTime }),
  checkpoints: z.array(ClockTime).min(1),
  /**
   * The schedule daemon's catch-up policy for a run missed while it was down (src/schedule/policy.ts):
   * run it late while it is still useful, or skip it with a log line.
   */
  catch_up: z
    .object({
      /** until_open: until the fill day's 09:30 open (the orders are meant for it); always; never. */
      weekly: z.enum(['until_open', 'always', 'never']).default('until_open'),
      /** until_next: until the next checkpoint of the schedule is due; always; never. */
      checkpoint: z.enum(['until_next', 'always', 'never']).default('until_next'),
      postmortem: z.enum(['always', 'never']).default('always'),
      /** How far back a starting daemon looks for runs it missed. */
      window_days: z.number().int().min(1).max(60).default(8),
    })
    .prefault({}),
  /** Work shared through the PostgreSQL job queue (pg-boss): backtest weeks today. */
  jobs: z
    .object({
      /** A job still active after this long is presumed lost with its worker and is given to another. */
      expire_seconds: z.number().int().min(5).default(1800),
      /** Retries of a job that failed (an error that is not the user's to fix), with backoff. */
      retry_limit: z.number().int().min(0).max(20).default(3),
      retry_delay_seconds: z.number().int().min(0).default(5),
      /** A backtest's books job replays weeks for about this long, then hands the rest to a new job. */
      books_chunk_seconds: z.number().positive().default(60),
      /** How often pg-boss checks for expired jobs (its maintenance interval). */
      maintenance_seconds: z.number().int().min(1).default(60),
      /** How often each process on the queue looks for jobs whose worker has stopped (src/jobs/leases.ts). */
      orphan_check_seconds: z.number().int().min(1).default(5),
    })
    .prefault({}),
});

/** A calendar date YYYY-MM-DD that exists, or 'web' (the model searches the web as it runs). */
const CUTOFF_ERROR = 'expected a date YYYY-MM-DD (the last day the model may have seen) or web (it searches the web)';
export const KnowledgeCutoff = z
  .string({ error: CUTOFF_ERROR })
  .refine(
    (v) =>
      v === 'web' ||
      (/^\d{4}-\d{2}-\d{2}$/.test(v) &&
        !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) &&
        new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) === v),
    CUTOFF_ERROR,
  );
export type KnowledgeCutoff = z.infer<typeof KnowledgeCutoff>;

const Seat = z.object({
  role: z.enum(['researcher', 'pm', 'chairman']),
  label: z.string().min(1).optional(),
  offline: z.string().min(1),
  /** Pin this seat to one provider (e.g. perplexity, or a custom server from config/llm.yaml). */
  provider: z.string().min(1).optional(),
  models: z.record(z.string(), z.string().min(1)),
  temperature: z.number().min(0).max(2).default(0.7),
  fallbacks: z.record(z.string(), z.array(z.string().min(1))).optional(),
  /**
   * The last day the seat's models may have seen in training (YYYY-MM-DD), or 'web' for a model that
   * searches the live web. Backtests mark a week contaminated for the seat when its decision day is on
   * or before it (src/backtest/contamination.ts). Absent: unknown, so contaminated every week.
   */
  knowledge_cutoff: KnowledgeCutoff.optional(),
});

const Fraction = z.number().gt(0).max(1);
const ModelsFile = z.object({
  /** A seat meant for an LLM whose provider has no key may run its offline persona (labelled so). */
  allow_offline_seats: z.boolean().default(false),
  seats: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'seat names are lower-case words'), Seat),
  accounts: z
    .array(z.object({ id: z.number().int().min(1).max(6), owner: z.string().min(1) }))
    .length(6)
    .refine((a) => new Set(a.map((x) => x.id)).size === 6, 'account ids must be 1..6, each once'),
  council: z.object({
    quorum: z.number().int().min(1),
    concurrency: z.number().int().min(1).max(32),
    call_deadline_seconds: z.number().positive(),
    research_deadline_seconds: z.number().positive(),
    /**
     * When the research seat (an LLM) fails after its retries: 'offline' writes the week's pack with the
     * offline analyst, labelled as a fallback everywhere; 'none' stops the week at research.
     */
    research_fallback: z.enum(['offline', 'none']).default('offline'),
  }),
  risk: z.object({
    starting_cash: z.number().positive(),
    max_gross_exposure: z.number().gt(0).max(4),
    max_position: Fraction,
    target_daily_vol: z.number().positive().max(0.2),
    conviction_scale: z.object({ '1': Fraction, '2': Fraction }),
    /** An account whose owner failed this week: 'flat' closes its position, 'hold' keeps it. */
    on_seat_failure: z.enum(['flat', 'hold']).default('flat'),
    /** The share of a position a checkpoint REDUCE closes (whole shares, at least one). */
    reduce_fraction: z.number().gt(0).lt(1).default(0.5),
  }),
  execution: z.object({
    slippage_bps: z.number().min(0).max(500),
    commission_per_share: z.number().min(0),
    min_commission: z.number().min(0),
  }),
  /** Alpaca with one key pair: the six accounts are sub-ledgers of one paper account (README "Alpaca paper accounts"). */
  subledgers: z
    .object({
      /**
       * Each account's share of the paper account's equity when its sub-ledger is created, by account
       * id; all six, summing to at most 1 (the rest stays unallocated). Absent: equal sixths.
       */
      starting_shares: z
        .record(z.enum(['1', '2', '3', '4', '5', '6']), Fraction)
        .refine((shares) => Object.keys(shares).length === 6, 'give a share for each of the accounts 1..6')
        .refine((shares) => Object.values(shares).reduce((a, b) => a + b, 0) <= 1 + 1e-9, 'the shares must sum to at most 1')
        .optional(),
    })
    .prefault({}),
});

/** Each account's share of the paper account's equity in the sub-ledger mode (default: equal sixths). */
export function startingShares(models: Pick<ModelsConfig, 'subledgers' | 'accounts'>): Map<number, number> {
  const shares = models.subledgers.starting_shares;
  return new Map(models.accounts.map((a) => [a.id, shares?.[String(a.id) as keyof typeof shares] ?? 1 / models.accounts.length]));
}

export type AssetsConfig = z.infer<typeof AssetsFile>;
export type ScheduleConfig = z.infer<typeof ScheduleFile>;
export type ModelsConfig = z.infer<typeof ModelsFile>;
export type SeatConfig = z.infer<typeof Seat>;

export interface AppConfig {
  dir: string;
  assets: AssetsConfig;
  schedule: ScheduleConfig;
  models: ModelsConfig;
  /** config/market-data.yaml (optional): Alpaca data sync and the calendar of MARKET_DATA=alpaca. */
  marketData: MarketDataConfig;
  /** Seat names of the PMs, in config order. */
  pmSeats: string[];
  tickers: string[];
}

export { ConfigError };

export { DEFAULT_CONFIG_DIR } from './paths.js';

export function loadConfig(dir: string = process.env.LLM_TRADING_CONFIG_DIR ?? DEFAULT_CONFIG_DIR): AppConfig {
  const assets = loadYaml(dir, 'assets.yaml', AssetsFile);
  const schedule = loadYaml(dir, 'schedule.yaml', ScheduleFile);
  const models = loadYaml(dir, 'models.yaml', ModelsFile);
  const file = displayPath(join(dir, 'models.yaml'));
  const seats = Object.entries(models.seats);
  const pmSeats = seats.filter(([, s]) => s.role === 'pm').map(([name]) => name);
  if (!seats.some(([, s]) => s.role === 'researcher')) throw new ConfigError(`${file}: seats: expected a seat with role researcher`);
  if (seats.filter(([, s]) => s.role === 'chairman').length !== 1)
    throw new ConfigError(`${file}: seats: expected exactly one seat with role chairman`);
  if (pmSeats.length < 1) throw new ConfigError(`${file}: seats: expected at least one seat with role pm`);
  if (models.council.quorum > pmSeats.length) {
    throw new ConfigError(
      `${file}: council.quorum: expected at most ${pmSeats.length} (the number of PM seats), got ${models.council.quorum}`,
    );
  }
  models.accounts.forEach((account, i) => {
    if (account.owner !== 'council' && !pmSeats.includes(account.owner)) {
      throw new ConfigError(
        `${file}: accounts.${i}.owner: expected "council" or a PM seat (${pmSeats.join(', ')}), got "${account.owner}"`,
      );
    }
  });
  const tickers = assets.assets.map((a) => a.ticker);
  if (!tickers.includes(assets.benchmark)) {
    throw new ConfigError(`${displayPath(join(dir, 'assets.yaml'))}: benchmark: expected one of the assets, got ${assets.benchmark}`);
  }
  return { dir, assets, schedule, models, marketData: loadMarketDataConfig(dir), pmSeats, tickers };
}

function loadYaml<T>(dir: string, name: string, schema: z.ZodType<T>): T {
  const path = join(dir, name);
  return validateConfig(schema, readYamlFile(path), displayPath(path));
}
