/**
 * `llm-trading data sync` (Alpaca's calendar, daily bars and minute bars into the database) and
 * `llm-trading data status` (what the database holds). The keys are checked before the database is
 * opened: a sync without keys costs nothing.
 */
import type { Env } from '../config/env.js';
import type { Store } from '../storage/db.js';
import type { SyncReport } from '../market/sync/sync.js';
import { configDirOf, openCliStore } from './commands.js';
import { pad } from './format.js';
import { UserError } from '../errors.js';
import type { CliIo, CommonOptions } from './io.js';

export interface DataSyncOptions extends CommonOptions {
  from?: string;
  to?: string;
  minutes?: boolean;
}

export async function dataSync(io: CliIo, options: DataSyncOptions): Promise<void> {
  const [{ parseEnv, alpacaDataKeys }, { loadConfig }] = await Promise.all([import('../config/env.js'), import('../config/app-config.js')]);
  const env = parseEnv(io.env);
  const keys = alpacaDataKeys(env);
  const config = loadConfig(configDirOf(io.env));
  const [{ AlpacaClient }, { syncSettings }, { syncMarketData }] = await Promise.all([
    import('../broker/alpaca/client.js'),
    import('../market/sync/settings.js'),
    import('../market/sync/sync.js'),
  ]);
  const client = new AlpacaClient({
    keyId: keys.keyId,
    secretKey: keys.secretKey,
    accountLabel: `market data (${keys.label})`,
    ...(env.alpaca.tradingBaseUrl ? { tradingBaseUrl: env.alpaca.tradingBaseUrl } : {}),
    ...(env.alpaca.dataBaseUrl ? { dataBaseUrl: env.alpaca.dataBaseUrl } : {}),
  });
  const settings = syncSettings(config.marketData, env);
  await withStore(io, env, 'data sync', options, async (store) => {
    const release = await oneSyncAtATime(store);
    try {
      await syncInto(store);
    } finally {
      await release();
    }
  });

  async function syncInto(store: Store): Promise<void> {
    io.stderr(
      `llm-trading data sync: Alpaca ${settings.feed} feed, ${settings.adjustment === 'split' ? 'split-adjusted' : 'raw'} prices, into ${store.location}\n`,
    );
    const report = await syncMarketData(
      {
        db: store.db,
        client,
        settings,
        calendar: config.marketData.calendar,
        tickers: config.tickers,
        now: new Date(),
        onProgress: (line) => io.stderr(`  ${line}\n`),
      },
      { minutes: options.minutes === true, ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}) },
    );
    io.stdout(options.json ? `${JSON.stringify(syncJson(report), null, 2)}\n` : renderSync(report));
  }
}

/**
 * Two syncs into one database would fetch and upsert the same bars twice (harmless, but slow and
 * confusing in the progress lines): the second is refused at once. On the embedded database the home
 * lock already keeps a second process out; on PostgreSQL this named lock does.
 */
async function oneSyncAtATime(store: Store): Promise<() => Promise<void>> {
  const { LockTimeoutError } = await import('../storage/locks.js');
  try {
    return await store.locks.acquire(DATA_SYNC_LOCK, { timeoutMs: 0 });
  } catch (error) {
    if (error instanceof LockTimeoutError)
      throw new UserError(`another \`llm-trading data sync\` is running on ${store.location}: let it finish, then run this one again`);
    throw error;
  }
}

export const DATA_SYNC_LOCK = 'data-sync';

/** The --json result: stable snake_case fields. */
export function syncJson(report: SyncReport) {
  return {
    feed: report.feed,
    adjustment: report.adjustment,
    calendar: {
      first: report.calendar.first,
      last: report.calendar.last,
      trading_days: report.calendar.tradingDays,
      changed: report.calendar.changed,
    },
    daily_range: report.daily_range,
    minute_range: report.minute_range,
    tickers: report.tickers.map((t) => ({
      ticker: t.ticker,
      daily: { added: t.daily.added, updated: t.daily.updated, first: t.daily.first, last: t.daily.last, refetched: t.daily.refetched },
      minutes: t.minutes
        ? { added: t.minutes.added, updated: t.minutes.updated, sessions: t.minutes.days, first: t.minutes.first, last: t.minutes.last }
        : null,
    })),
  };
}

function renderSync(report: SyncReport): string {
  const lines = [
    `calendar ${report.calendar.first}..${report.calendar.last}: ${report.calendar.tradingDays} trading days`,
    `daily bars ${report.daily_range.from}..${report.daily_range.to}${report.daily_range.capped ? ' (the last closed session; later days are not over yet)' : ''}${report.minute_range ? `; minute bars ${report.minute_range.from}..${report.minute_range.to}` : ''}`,
    `${pad('ticker', 8)}${pad('daily added', 13)}${pad('corrected', 11)}${pad('first', 12)}${pad('last', 12)}${report.minute_range ? `${pad('minutes added', 15)}sessions` : ''}`,
  ];
  for (const t of report.tickers) {
    const minutes = t.minutes ? `${pad(`+${t.minutes.added}`, 15)}${t.minutes.days}` : '';
    lines.push(
      `${pad(t.ticker, 8)}${pad(`+${t.daily.added}`, 13)}${pad(String(t.daily.updated), 11)}${pad(t.daily.first ?? '-', 12)}${pad(t.daily.last ?? '-', 12)}${minutes}`,
    );
    if (t.daily.refetched) lines.push(`        history fetched again: ${t.daily.refetched}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function dataStatus(io: CliIo, options: CommonOptions): Promise<void> {
  const [{ parseEnv }, { loadConfig }, { marketCoverage }] = await Promise.all([
    import('../config/env.js'),
    import('../config/app-config.js'),
    import('../market/sync/coverage.js'),
  ]);
  const env = parseEnv(io.env);
  const config = loadConfig(configDirOf(io.env));
  await withStore(io, env, 'data status', options, async (store) => {
    const coverage = await marketCoverage(store.db, config.tickers);
    if (options.json) {
      io.stdout(`${JSON.stringify(coverage, null, 2)}\n`);
      return;
    }
    io.stdout(
      coverage.calendar
        ? `calendar (Alpaca) ${coverage.calendar.first}..${coverage.calendar.last}: ${coverage.calendar.trading_days} trading days\n`
        : 'calendar: not synced (the project calendar is used)\n',
    );
    io.stdout(
      `${pad('ticker', 8)}${pad('daily bars', 12)}${pad('first', 12)}${pad('last', 12)}${pad('feed', 6)}${pad('adjustment', 12)}${pad('minute sessions', 17)}minutes from..to\n`,
    );
    for (const t of coverage.tickers) {
      io.stdout(
        `${pad(t.ticker, 8)}${pad(String(t.daily_bars), 12)}${pad(t.first ?? '-', 12)}${pad(t.last ?? '-', 12)}${pad(t.feed ?? '-', 6)}${pad(t.adjustment ?? '-', 12)}${pad(String(t.minute_sessions), 17)}${t.minutes_first ? `${t.minutes_first}..${t.minutes_last}` : '-'}\n`,
      );
    }
    if (coverage.tickers.every((t) => t.daily_bars === 0)) io.stdout('no bars yet: run `llm-trading data sync`\n');
  });
}

async function withStore(
  io: CliIo,
  env: Env,
  command: string,
  options: CommonOptions,
  body: (store: Store) => Promise<void>,
): Promise<void> {
  const store = await openCliStore(io, env, `llm-trading ${command}`, options);
  try {
    await body(store);
  } finally {
    await store.close();
  }
}
