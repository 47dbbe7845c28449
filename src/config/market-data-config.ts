import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isValidDate } from '../market/calendar.js';
import { displayPath, readYamlFile, validateConfig } from './yaml-file.js';

/**
 * config/market-data.yaml: what `llm-trading data sync` asks Alpaca for and which calendar
 * MARKET_DATA=alpaca follows. The file is optional (a config folder of an older version has none):
 * without it every setting takes its default. ALPACA_DATA_FEED in the environment overrides the feed.
 */
const IsoDate = z.string().refine(isValidDate, 'expected a date YYYY-MM-DD');

export const MarketDataFile = z.object({
  alpaca: z
    .object({
      /** iex: the free feed (one exchange, ≈ 2–3% of volume); sip: every US exchange (a paid plan for recent data). */
      feed: z.enum(['iex', 'sip']).default('iex'),
      /**
       * How open/high/low/close are adjusted: split (default: the prices traded since the last split,
       * continuous across splits, as the bundled data) or raw (prices as printed then; a split is a jump).
       * adj_close is always Alpaca's adjustment=all (splits and dividends): total returns.
       */
      adjustment: z.enum(['split', 'raw']).default('split'),
      /** Where the daily history starts on the first sync (Alpaca's bars begin in 2016). */
      history_start: IsoDate.default('2016-01-04'),
      /** Sessions fetched again before the last stored one, to pick up late corrections. */
      overlap_sessions: z.number().int().min(0).max(60).default(5),
      /** `data sync --minutes`: minute bars of the sessions of this many most recent weeks. */
      minute_weeks: z.number().int().min(1).max(520).default(4),
      /** Bars per request (Alpaca allows 1..10000). */
      page_limit: z.number().int().min(1).max(10_000).default(10_000),
    })
    .prefault({}),
  /** alpaca: with MARKET_DATA=alpaca, holidays and early closes come from the synced calendar; builtin: the project's. */
  calendar: z.enum(['alpaca', 'builtin']).default('alpaca'),
});
export type MarketDataConfig = z.infer<typeof MarketDataFile>;

export function loadMarketDataConfig(dir: string): MarketDataConfig {
  const path = join(dir, 'market-data.yaml');
  if (!existsSync(path)) return MarketDataFile.parse({});
  return validateConfig(MarketDataFile, readYamlFile(path) ?? {}, displayPath(path));
}
