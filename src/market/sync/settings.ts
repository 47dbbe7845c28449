import type { MarketDataConfig } from '../../config/market-data-config.js';
import type { Env } from '../../config/env.js';

/** What `data sync` asks Alpaca for: config/market-data.yaml, with ALPACA_DATA_FEED over its feed. */
export interface SyncSettings {
  feed: 'iex' | 'sip';
  /** Of open/high/low/close/volume; adj_close is always 'all'. */
  adjustment: 'split' | 'raw';
  historyStart: string;
  overlapSessions: number;
  minuteWeeks: number;
  pageLimit: number;
}

export function syncSettings(config: MarketDataConfig, env: Env): SyncSettings {
  const a = config.alpaca;
  return {
    feed: env.alpaca.dataFeed ?? a.feed,
    adjustment: a.adjustment,
    historyStart: a.history_start,
    overlapSessions: a.overlap_sessions,
    minuteWeeks: a.minute_weeks,
    pageLimit: a.page_limit,
  };
}
