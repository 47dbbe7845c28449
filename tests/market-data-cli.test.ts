import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/app-config.js';
import { BundledMarketData } from '../src/market/bundled-market-data.js';
import { builtinCalendar, etToUtc, useTradingCalendar } from '../src/market/calendar.js';
import { startAlpacaStandIn, type AlpacaStandIn, type StandInBar } from './helpers/alpaca-stand-in.js';
import { cli } from './helpers/cli.js';
import { createScratchDatabase } from './helpers/stores.js';
import { openStore } from '../src/storage/db.js';
import { DATA_SYNC_LOCK } from '../src/cli/data-commands.js';

/**
 * `llm-trading data sync` and MARKET_DATA=alpaca end to end: the stand-in serves the bundled bars of
 * the ten ETFs as Alpaca's, the CLI syncs them into the embedded database, and a whole offline week on
 * them decides exactly as on the bundled files (the snapshot says where its bars came from).
 */

const KEY_ID = 'PKSTANDIN0DATAKEY002';
const SECRET = 'sEcReT-cli-0123456789abcdefghijklmnopqrstuvwxyz';
const WEEK = '2024-03-06';
let root: string;
let standIn: AlpacaStandIn;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lt-data-cli-'));
  standIn = await startAlpacaStandIn();
  standIn.addAccount({ keyId: KEY_ID, secretKey: SECRET, cash: 100_000 });
  const bundled = new BundledMarketData();
  for (const ticker of loadConfig().tickers) {
    // 600 sessions before the week (the snapshot's look-back) and the week itself.
    const bars = (await bundled.bars(ticker, '2024-03-12')).filter((b) => b.date >= '2021-06-01');
    const wire = (close: (b: (typeof bars)[number]) => number): StandInBar[] =>
      bars.map((b) => ({
        t: etToUtc(b.date, '00:00').toISOString(),
        o: b.open,
        h: b.high,
        l: b.low,
        c: close(b),
        v: b.volume,
        n: 100,
        vw: b.close,
      }));
    standIn.setBars(
      ticker,
      wire((b) => b.close),
      { adjustment: 'split' },
    );
    standIn.setBars(
      ticker,
      wire((b) => b.adjClose),
      { adjustment: 'all' },
    );
  }
});
afterAll(async () => {
  expect(standIn.violations).toEqual([]);
  await standIn.stop();
  rmSync(root, { recursive: true, force: true });
});
afterEach(() => useTradingCalendar(builtinCalendar));

const alpacaEnv = (home: string) => ({
  LLM_TRADING_HOME: home,
  APCA_API_KEY_ID: KEY_ID,
  APCA_API_SECRET_KEY: SECRET,
  APCA_API_BASE_URL: standIn.tradingUrl,
  APCA_DATA_BASE_URL: standIn.dataUrl,
});

describe('data sync and MARKET_DATA=alpaca', () => {
  it('refuses a week on an empty database with what to run', async () => {
    const home = join(root, 'empty');
    const run = await cli(['week', '--week', WEEK], { ...alpacaEnv(home), MARKET_DATA: 'alpaca' });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('llm-trading: MARKET_DATA=alpaca: no Alpaca bars in the database; run `llm-trading data sync` first\n');
  });

  it('syncs the universe, adds nothing on a re-run, and runs a week on the synced bars as on the bundled ones', async () => {
    const home = join(root, 'alpaca');
    const sync = await cli(['data', 'sync', '--from', '2021-06-01', '--to', '2024-03-12', '--json'], alpacaEnv(home));
    expect(sync.code, sync.stderr).toBe(0);
    const report = JSON.parse(sync.stdout);
    expect(report).toMatchObject({
      feed: 'iex',
      adjustment: 'split',
      daily_range: { from: '2021-06-01', to: '2024-03-12', capped: false },
    });
    expect(report.tickers).toHaveLength(10);
    expect(report.tickers[0]).toMatchObject({
      ticker: 'SPY',
      daily: { first: '2021-06-01', last: '2024-03-12', updated: 0, refetched: null },
      minutes: null,
    });
    expect(report.tickers[0].daily.added).toBeGreaterThan(690);
    // The APCA_API_KEY_ID pair, never another.
    expect(new Set(standIn.calls('StockBars').map((c) => c.headers['apca-api-key-id']))).toEqual(new Set([KEY_ID]));

    const again = JSON.parse((await cli(['data', 'sync', '--from', '2021-06-01', '--to', '2024-03-12', '--json'], alpacaEnv(home))).stdout);
    expect(again.tickers.map((t: { daily: { added: number; updated: number } }) => t.daily.added + t.daily.updated)).toEqual(
      Array(10).fill(0),
    );

    const status = JSON.parse((await cli(['data', 'status', '--json'], alpacaEnv(home))).stdout);
    expect(status.calendar).toMatchObject({ first: '2016-01-04' });
    expect(status.tickers[0]).toMatchObject({
      ticker: 'SPY',
      first: '2021-06-01',
      last: '2024-03-12',
      feed: 'iex',
      adjustment: 'split',
      minute_sessions: 0,
    });

    // Alpaca's prices, the simulated broker: the single key pair alone would choose Alpaca's sub-ledger mode.
    const onAlpaca = await cli(['week', '--week', WEEK, '--json'], { ...alpacaEnv(home), MARKET_DATA: 'alpaca', BROKER: 'sim' });
    expect(onAlpaca.code, onAlpaca.stderr).toBe(0);
    const bundledHome = join(root, 'bundled');
    const onBundled = await cli(['week', '--week', WEEK, '--json'], { LLM_TRADING_HOME: bundledHome });
    expect(onBundled.code, onBundled.stderr).toBe(0);

    const snapshot = (home: string) => JSON.parse(readFileSync(join(home, 'runs', 'default', WEEK, 'normalized', 'snapshot.json'), 'utf8'));
    const [fromDb, fromFiles] = [snapshot(home), snapshot(bundledHome)];
    expect(fromDb.source).toBe('alpaca');
    expect(fromFiles.source).toBe('bundled');
    expect(fromDb.data_through).toBe('2024-03-05');
    expect(fromDb.assets).toEqual(fromFiles.assets);

    const [a, b] = [JSON.parse(onAlpaca.stdout), JSON.parse(onBundled.stdout)];
    expect(a.weekly.decision).toEqual(b.weekly.decision);
    const actions = (w: { checkpoints: { date: string; time: string; updates: { action: string }[] }[] }) =>
      w.checkpoints.map((c) => `${c.date} ${c.time} ${c.updates.map((u) => u.action).join(',')}`);
    expect(actions(a)).toEqual(actions(b));
    expect(a.postmortem.accounts.map((x: { pnl: number }) => x.pnl)).toEqual(b.postmortem.accounts.map((x: { pnl: number }) => x.pnl));
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('data sync on PostgreSQL', () => {
  it('refuses a second sync into the same database while one runs, and runs once it has ended', async () => {
    const scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL as string);
    const store = await openStore({ databaseUrl: scratch.url });
    try {
      const env = { ...alpacaEnv(join(root, 'pg-sync')), DATABASE_URL: scratch.url };
      const args = ['data', 'sync', '--from', '2024-01-02', '--to', '2024-01-31', '--json'];
      // Another process's sync, as far as this one can tell: the lock is held on another connection.
      const release = await store.locks.acquire(DATA_SYNC_LOCK, { timeoutMs: 0 });
      const barsCalls = standIn.calls('StockBars').length;
      const refused = await cli(args, env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('another `llm-trading data sync` is running on');
      expect(standIn.calls('StockBars').length).toBe(barsCalls);
      await release();
      const ran = await cli(args, env);
      expect(ran.code, ran.stderr).toBe(0);
      expect(JSON.parse(ran.stdout).tickers).toHaveLength(10);
    } finally {
      await store.close();
      await scratch.drop();
    }
  });
});
