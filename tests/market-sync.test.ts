import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlpacaClient } from '../src/broker/alpaca/client.js';
import { weekOf } from '../src/council/week.js';
import { loadConfig } from '../src/config/app-config.js';
import { weekSlots } from '../src/checkpoint/schedule.js';
import {
  builtinCalendar,
  etToUtc,
  isTradingDay,
  sessionHours,
  tradingCalendar,
  tradingDaysBetween,
  useTradingCalendar,
} from '../src/market/calendar.js';
import type { SyncSettings } from '../src/market/sync/settings.js';
import { syncMarketData, type SyncRequest } from '../src/market/sync/sync.js';
import { marketDailyBars, marketMinuteBars } from '../src/storage/schema.js';
import type { Store } from '../src/storage/db.js';
import { dailyBar, minuteBar, startAlpacaStandIn, type AlpacaStandIn, type StandInBar } from './helpers/alpaca-stand-in.js';
import { cli } from './helpers/cli.js';
import { storeFactories } from './helpers/stores.js';

/**
 * `data sync` against the Alpaca stand-in (every request and response checked against Alpaca's
 * OpenAPI documents): pages, incremental and idempotent re-runs, re-adjusted history, minute bars,
 * Alpaca's calendar. On PGlite, and on PostgreSQL when TEST_DATABASE_URL is set.
 */

const KEY_ID = 'PKSTANDIN0DATAKEY001';
const SECRET = 'sEcReT-data-0123456789abcdefghijklmnopqrstuvwxyz';
const SETTINGS: SyncSettings = {
  feed: 'iex',
  adjustment: 'split',
  historyStart: '2024-01-02',
  overlapSessions: 5,
  minuteWeeks: 1,
  pageLimit: 20,
};
const DAYS = tradingDaysBetween('2024-01-02', '2024-03-13');

/** A split-adjusted series and its total-return twin (the close 2% lower: dividends paid since). */
function serve(standIn: AlpacaStandIn, ticker: string, days: readonly string[], base: number, dividendFactor = 0.98): void {
  const bars = days.map((d, i) => dailyBar(d, base + i));
  standIn.setBars(ticker, bars, { adjustment: 'split' });
  standIn.setBars(
    ticker,
    bars.map((b) => ({ ...b, c: Number((b.c * dividendFactor).toFixed(4)) })),
    { adjustment: 'all' },
  );
}

function minutesOfDay(date: string, base: number): StandInBar[] {
  const bars: StandInBar[] = [minuteBar(date, '08:00', base - 5)]; // pre-market: not kept
  for (let m = 0; m < 390; m++) {
    const time = `${String(9 + Math.floor((30 + m) / 60)).padStart(2, '0')}:${String((30 + m) % 60).padStart(2, '0')}`;
    bars.push(minuteBar(date, time, base + m / 100));
  }
  bars.push(minuteBar(date, '16:30', base + 9)); // after hours: not kept
  return bars;
}

describe.each(storeFactories)('data sync ($name)', (factory) => {
  let store: Store;
  let standIn: AlpacaStandIn;
  let client: AlpacaClient;

  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    const { sql } = await import('drizzle-orm');
    await store.db.execute(sql`truncate market_daily_bars, market_minute_bars, market_calendar, market_sync_state`);
    standIn = await startAlpacaStandIn();
    standIn.addAccount({ keyId: KEY_ID, secretKey: SECRET, cash: 100_000 });
    client = new AlpacaClient({
      keyId: KEY_ID,
      secretKey: SECRET,
      tradingBaseUrl: standIn.tradingUrl,
      dataBaseUrl: standIn.dataUrl,
      accountLabel: 'market data',
      retry: { max_attempts: 2, base_ms: 1, max_ms: 5, max_retry_after_ms: 50 },
    });
  });
  afterEach(async () => {
    useTradingCalendar(builtinCalendar);
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  const sync = (
    now: string,
    request: Partial<SyncRequest> = {},
    settings: Partial<SyncSettings> = {},
    calendar: 'alpaca' | 'builtin' = 'builtin',
  ) =>
    syncMarketData(
      { db: store.db, client, settings: { ...SETTINGS, ...settings }, calendar, tickers: ['SPY', 'TLT'], now: new Date(now) },
      { minutes: false, ...request },
    );
  const dailyCalls = (adjustment: string) =>
    standIn.calls('StockBars').filter((c) => c.query.adjustment === adjustment && c.query.timeframe === '1Day');

  it('follows next_page_token, stores split-adjusted prices with total-return closes, and stops at the last closed session', async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    // Wednesday 2024-03-06 at 15:00 New York: that session is still trading.
    const report = await sync('2024-03-06T20:00:00Z');
    expect(report.daily_range).toEqual({ from: '2024-01-02', to: '2024-03-05', capped: false });
    const through = tradingDaysBetween('2024-01-02', '2024-03-05');
    expect(report.tickers.map((t) => [t.ticker, t.daily.added, t.daily.first, t.daily.last])).toEqual([
      ['SPY', through.length, '2024-01-02', '2024-03-05'],
      ['TLT', through.length, '2024-01-02', '2024-03-05'],
    ]);
    // 43 bars at 20 a page: three pages per ticker and adjustment, chained by the token.
    const spySplit = dailyCalls('split').filter((c) => c.query.symbols === 'SPY');
    expect(spySplit).toHaveLength(Math.ceil(through.length / 20));
    expect(spySplit[0]!.query.page_token).toBeUndefined();
    expect(spySplit[1]!.query.page_token).toBeTypeOf('string');
    expect(spySplit[0]!.query).toMatchObject({ feed: 'iex', start: '2024-01-02', end: '2024-03-05', limit: '20' });
    const { eq, and } = await import('drizzle-orm');
    const [first] = await store.db
      .select()
      .from(marketDailyBars)
      .where(and(eq(marketDailyBars.ticker, 'SPY'), eq(marketDailyBars.date, '2024-01-02')));
    expect(first).toMatchObject({
      open: 469.5,
      high: 471,
      low: 469,
      close: 470,
      adjClose: 460.6,
      volume: 1_000_000,
      feed: 'iex',
      adjustment: 'split',
      source: 'alpaca',
    });
  });

  it('re-syncs incrementally from a few sessions before the last stored one, and a re-run adds nothing', async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    await sync('2024-03-06T22:00:00Z'); // after Wednesday's close: through 2024-03-06
    const before = standIn.calls('StockBars').length;
    const second = await sync('2024-03-13T22:00:00Z');
    const calls = standIn.calls('StockBars').slice(before);
    // Five sessions of overlap before the last stored 2024-03-06.
    expect(calls.map((c) => c.query.start)).toEqual(['2024-02-28', '2024-02-28', '2024-02-28', '2024-02-28']);
    expect(second.tickers.map((t) => [t.daily.added, t.daily.updated, t.daily.last])).toEqual([
      [5, 0, '2024-03-13'],
      [5, 0, '2024-03-13'],
    ]);
    const third = await sync('2024-03-13T22:00:00Z');
    expect(third.tickers.map((t) => [t.daily.added, t.daily.updated, t.daily.refetched])).toEqual([
      [0, 0, null],
      [0, 0, null],
    ]);
    const { count } = await import('drizzle-orm');
    const [rows] = await store.db.select({ n: count() }).from(marketDailyBars);
    expect(rows!.n).toBe(2 * DAYS.length);
  });

  it('fetches the whole history again when a dividend since the last sync moved the adjusted closes', async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    await sync('2024-03-06T22:00:00Z');
    // A dividend goes ex on 2024-03-07: Alpaca's total-return closes before it are all 1% lower now.
    serve(standIn, 'SPY', DAYS, 470, 0.98 * 0.99);
    const before = standIn.calls('StockBars').length;
    const report = await sync('2024-03-13T22:00:00Z');
    const spy = report.tickers[0]!.daily;
    expect(spy.refetched).toMatch(/total-return close of 2024-02-28 moved/);
    expect(spy.added).toBe(5);
    expect(spy.updated).toBe(DAYS.length - 5);
    const starts = standIn
      .calls('StockBars')
      .slice(before)
      .filter((c) => c.query.symbols === 'SPY')
      .map((c) => c.query.start);
    expect(starts).toContain('2024-01-02');
    expect(report.tickers[1]!.daily).toMatchObject({ refetched: null, added: 5, updated: 0 });
  });

  it('fetches the history again when the feed changes', async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    await sync('2024-03-06T22:00:00Z');
    const report = await sync('2024-03-06T22:00:00Z', {}, { feed: 'sip' });
    expect(report.tickers[0]!.daily.refetched).toMatch(/feed iex.*now sip/);
    expect(standIn.calls('StockBars').at(-1)!.query.feed).toBe('sip');
  });

  it('stores the regular-session minute bars of the checkpoint days, a page at a time, and resumes after the last stored day', async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    standIn.setBars('SPY', [...minutesOfDay('2024-03-11', 500), ...minutesOfDay('2024-03-12', 510)], { timeframe: '1Min' });
    // Tuesday 2024-03-12 13:00 New York (EDT): the morning of the 12th is there, the afternoon is not.
    const first = await sync('2024-03-12T17:00:00Z', { minutes: true, from: '2024-03-11', to: '2024-03-12' }, { pageLimit: 100 });
    expect(first.minute_range).toEqual({ from: '2024-03-11', to: '2024-03-12' });
    const spy = first.tickers[0]!.minutes!;
    // 390 bars on the 11th, 09:30..12:59 on the 12th (210); the 08:00 and 16:30 bars are not kept.
    expect([spy.added, spy.days, spy.first, spy.last]).toEqual([390 + 210, 2, '2024-03-11', '2024-03-12']);
    expect(first.tickers[1]!.minutes).toMatchObject({ added: 0, days: 0 });
    const minuteCalls = () => standIn.calls('StockBars').filter((c) => c.query.timeframe === '1Min' && c.query.symbols === 'SPY');
    expect(minuteCalls().length).toBeGreaterThan(5);
    expect(minuteCalls()[0]!.query).toMatchObject({ start: etToUtc('2024-03-11', '00:00').toISOString(), end: '2024-03-12T16:59:00.000Z' });

    const n = minuteCalls().length;
    const second = await sync('2024-03-12T21:00:00Z', { minutes: true, from: '2024-03-11', to: '2024-03-12' }, { pageLimit: 100 });
    // The last stored day is fetched again (it was stored while trading), nothing before it.
    expect(minuteCalls()[n]!.query.start).toBe(etToUtc('2024-03-12', '00:00').toISOString());
    expect(second.tickers[0]!.minutes).toMatchObject({ added: 180, updated: 0, days: 2 });
    const again = await sync('2024-03-12T21:00:00Z', { minutes: true, from: '2024-03-11', to: '2024-03-12' }, { pageLimit: 100 });
    expect(again.tickers[0]!.minutes).toMatchObject({ added: 0, updated: 0 });
    const { and, eq } = await import('drizzle-orm');
    const kept = await store.db
      .select({ ts: marketMinuteBars.ts })
      .from(marketMinuteBars)
      .where(and(eq(marketMinuteBars.ticker, 'SPY'), eq(marketMinuteBars.date, '2024-03-12')));
    expect(kept).toHaveLength(390);
  });

  it("takes holidays and early closes from Alpaca's calendar once synced", async () => {
    serve(standIn, 'SPY', DAYS, 470);
    serve(standIn, 'TLT', DAYS, 90);
    standIn.setCalendarDay('2024-03-07', null); // closed, say for a day of mourning
    standIn.setCalendarDay('2024-03-08', { open: '09:30', close: '13:00' });
    const report = await sync('2024-03-06T22:00:00Z', {}, {}, 'alpaca');
    expect(report.calendar).toMatchObject({ first: '2024-01-02', last: '2025-12-31' });
    expect(tradingCalendar().name).toBe('alpaca 2024-01-02..2025-12-31');
    expect(isTradingDay('2024-03-07')).toBe(false);
    expect(sessionHours('2024-03-08')).toEqual({ open: '09:30', close: '13:00' });
    // Outside the synced range the project's calendar answers.
    expect(sessionHours('2023-11-24')).toEqual({ open: '09:30', close: '13:00' });
    const slots = weekSlots(weekOf('2024-03-06', loadConfig()), loadConfig()).filter(
      (s) => s.date >= '2024-03-07' && s.date <= '2024-03-08',
    );
    expect(slots.map((s) => [s.date, s.time, s.skip])).toEqual([
      ['2024-03-08', '09:00', null],
      ['2024-03-08', '12:00', null],
      ['2024-03-08', '14:00', 'after the 13:00 early close'],
      ['2024-03-08', '15:50', 'after the 13:00 early close'],
    ]);
  });
});

describe('data sync without keys', () => {
  it('stops with one line naming the variables, before opening the database', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lt-data-'));
    try {
      const run = await cli(['data', 'sync'], { LLM_TRADING_HOME: home });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        'llm-trading: Alpaca market data needs a key pair: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or APCA_ACCT1_KEY_ID and APCA_ACCT1_SECRET_KEY)\n',
      );
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
