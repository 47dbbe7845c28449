import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledMarketData } from '../src/market/bundled-market-data.js';
import { etToUtc, tradingDaysBetween } from '../src/market/calendar.js';
import { DbMarketData, NoMarketDataError } from '../src/market/db-market-data.js';
import { upsertDaily, upsertMinutes } from '../src/market/sync/store.js';
import type { Bar } from '../src/market/types.js';
import { openStore, type Store } from '../src/storage/db.js';

/**
 * MARKET_DATA=alpaca's adapter on rows as `data sync` stores them: the same answers as the bundled
 * adapter on the same daily bars, and with minute bars the real last trade at a checkpoint — the bar
 * that ended at or before it, never a later one.
 */

const FETCHED = new Date('2024-03-08T00:00:00Z');
let store: Store;
const bundled = new BundledMarketData();

beforeAll(async () => {
  store = await openStore({ memory: true });
  // The bundled SPY bars of early 2024, stored as Alpaca's would be.
  const bars = await bundled.bars('SPY', '2024-03-08');
  await upsertDaily(store.db, bars.filter((b) => b.date >= '2023-01-01').map(dailyRow));
  // Minute bars of Thursday 2024-03-07 only: 09:30 .. 15:59, close = 500 + minute index / 100; plus a pre-market bar.
  const minutes = [{ time: '08:15', close: 490 }];
  for (let m = 0; m < 390; m++) minutes.push({ time: wall(9 * 60 + 30 + m), close: 500 + m / 100 });
  await upsertMinutes(
    store.db,
    minutes.map(({ time, close }) => minuteRow('2024-03-07', time, close)),
  );
});

afterAll(async () => {
  await store.close();
});

/** A daily bar of SPY as `data sync` stores it. */
function dailyRow(bar: Bar) {
  return { ticker: 'SPY', ...bar, vwap: null, tradeCount: null, source: 'alpaca', feed: 'iex', adjustment: 'split', fetchedAt: FETCHED };
}

/** A stored SPY minute bar that traded at one price. */
function minuteRow(date: string, time: string, close: number) {
  return {
    ticker: 'SPY',
    ts: etToUtc(date, time),
    date,
    open: close,
    high: close,
    low: close,
    close,
    volume: 100,
    vwap: null,
    tradeCount: null,
    feed: 'iex',
    fetchedAt: FETCHED,
  };
}

function wall(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

describe('DbMarketData', () => {
  it('refuses a database without bars, saying what to run', async () => {
    await expect(DbMarketData.open(store.db, ['SPY', 'TLT'])).rejects.toThrow(
      new NoMarketDataError('MARKET_DATA=alpaca: no Alpaca bars for TLT; run `llm-trading data sync` first'),
    );
  });

  it('answers bars and coverage as the bundled adapter does on the same bars', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    expect(await db.bars('SPY', '2024-03-06', 30)).toEqual(await bundled.bars('SPY', '2024-03-06', 30));
    expect(await db.bars('SPY', '2024-03-09')).toHaveLength(tradingDaysBetween('2023-01-01', '2024-03-08').length);
    expect(await db.coverage(['SPY'])).toEqual({ first: '2023-01-03', last: '2024-03-08' });
    // A day without minute bars: the bundled adapter's daily rules.
    for (const [date, time] of [
      ['2024-03-06', '09:00'],
      ['2024-03-06', '16:00'],
      ['2024-03-09', '12:00'],
    ] as const)
      expect(await db.lastPrintAt('SPY', date, time)).toEqual(await bundled.lastPrintAt('SPY', date, time));
    expect(await db.priceAt('SPY', '2024-03-06', '12:00')).toEqual(await bundled.priceAt('SPY', '2024-03-06', '12:00'));
  });

  it('flags the open as approximate inside a session that has no minute bars', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    const open = (await bundled.bars('SPY', '2024-03-06', 1))[0]!.open;
    expect(await db.lastPrintAt('SPY', '2024-03-06', '12:00')).toEqual({
      ticker: 'SPY',
      date: '2024-03-06',
      time: '09:30',
      price: open,
      source: 'bar_open',
      approximate: true,
    });
  });

  it('at a checkpoint sees the last minute bar that ended at or before it, never a later one', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    // 12:00: the bar that started at 11:59 (index 149) ended at 12:00; the 12:00 bar is still trading.
    expect(await db.lastPrintAt('SPY', '2024-03-07', '12:00')).toEqual({
      ticker: 'SPY',
      date: '2024-03-07',
      time: '12:00',
      price: 501.49,
      source: 'minute_bar',
      approximate: false,
    });
    expect((await db.lastPrintAt('SPY', '2024-03-07', '15:50')).price).toBe(503.79);
    // The first minute of the session: nothing has finished yet, so the previous close.
    const previousClose = (await bundled.bars('SPY', '2024-03-06', 1))[0]!.close;
    expect(await db.lastPrintAt('SPY', '2024-03-07', '09:30')).toMatchObject({
      date: '2024-03-06',
      price: previousClose,
      source: 'bar_close',
    });
    // Before the open the pre-market bar is not the day's print: the previous close.
    expect(await db.lastPrintAt('SPY', '2024-03-07', '09:00')).toMatchObject({
      date: '2024-03-06',
      time: '16:00',
      price: previousClose,
      source: 'bar_close',
    });
    // At the close the official closing print of the daily bar.
    const close = (await bundled.bars('SPY', '2024-03-07', 1))[0]!.close;
    expect(await db.lastPrintAt('SPY', '2024-03-07', '16:00')).toMatchObject({ date: '2024-03-07', price: close, source: 'bar_close' });
  });

  it('prices fills at the printed open and close, and at the last minute bar in between', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    const bar = (await bundled.bars('SPY', '2024-03-07', 1))[0]!;
    expect(await db.priceAt('SPY', '2024-03-07', '09:30')).toMatchObject({ price: bar.open, source: 'bar_open', approximate: false });
    expect(await db.priceAt('SPY', '2024-03-07', '16:00')).toMatchObject({ price: bar.close, source: 'bar_close', approximate: false });
    expect(await db.priceAt('SPY', '2024-03-07', '14:00')).toMatchObject({ price: 502.69, source: 'minute_bar', approximate: false });
    await expect(db.priceAt('SPY', '2024-03-11', '12:00')).rejects.toThrow(/no SPY bar on 2024-03-11 \(not synced from Alpaca/);
  });

  it('reads a session that was still trading when synced again when asked past its last minute', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    const minute = (time: string, close: number) => minuteRow('2024-03-12', time, close);
    await upsertMinutes(store.db, [minute('09:30', 505), minute('10:59', 506)]);
    expect(await db.lastPrintAt('SPY', '2024-03-12', '11:00')).toMatchObject({ price: 506, time: '11:00', source: 'minute_bar' });
    // A sync at 12:01 stores the rest of the morning; the same adapter sees it at 12:00.
    await upsertMinutes(store.db, [minute('11:30', 507), minute('11:59', 508)]);
    expect(await db.lastPrintAt('SPY', '2024-03-12', '12:00')).toMatchObject({ price: 508, time: '12:00', source: 'minute_bar' });
    expect(await db.priceAt('SPY', '2024-03-12', '11:45')).toMatchObject({ price: 507, time: '11:31', source: 'minute_bar' });
  });

  it('sees bars a later sync adds without being reopened', async () => {
    const db = await DbMarketData.open(store.db, ['SPY']);
    expect((await db.coverage(['SPY'])).last).toBe('2024-03-08');
    await upsertDaily(store.db, [dailyRow({ date: '2024-03-11', open: 510, high: 512, low: 509, close: 511, adjClose: 511, volume: 1 })]);
    expect((await db.bars('SPY', '2024-03-11', 1))[0]!.close).toBe(511);
  });
});
