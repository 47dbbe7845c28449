import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BundledMarketData, defaultMarketDataDir, intradayModelPrice } from './bundled-market-data.js';
import type { Bar } from './types.js';

const DATA_DIR = fileURLToPath(new URL('../../data/etf-daily', import.meta.url));
const HEADER = 'date,open,high,low,close,adj_close,volume';
const md = new BundledMarketData();

const tempDirs: string[] = [];
function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmt-bars-'));
  tempDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function barOn(ticker: string, date: string): Promise<Bar> {
  const [bar] = await md.bars(ticker, date, 1);
  if (!bar || bar.date !== date) throw new Error(`test setup: no ${ticker} bar on ${date}`);
  return bar;
}

describe('BundledMarketData: real data spot checks (data/etf-daily/SOURCE.md)', () => {
  it('defaults to the package data folder', () => {
    expect(md.dir).toBe(DATA_DIR);
    expect(md.name).toBe('bundled');
  });

  it('has the closes SOURCE.md lists', async () => {
    expect((await barOn('SPY', '2023-12-29')).close).toBeCloseTo(475.31, 2);
    expect((await barOn('SPY', '2023-12-29')).adjClose).toBeCloseTo(465.21, 2);
    expect((await barOn('SPY', '2024-12-31')).close).toBeCloseTo(586.08, 2);
    expect((await barOn('SPY', '2015-01-02')).close).toBeCloseTo(205.43, 2);
    expect((await barOn('QQQ', '2023-12-29')).close).toBeCloseTo(409.52, 2);
    expect((await barOn('IWM', '2023-12-29')).close).toBeCloseTo(200.71, 2);
    expect((await barOn('TLT', '2023-12-29')).close).toBeCloseTo(98.88, 2);
    expect((await barOn('GLD', '2023-12-29')).close).toBeCloseTo(191.17, 2);
    expect((await barOn('USO', '2020-04-28')).close).toBeCloseTo(17.04, 2);
  });

  it('keeps raw and adjusted closes apart (UUP distribution on 2023-12-18)', async () => {
    const [before, after] = await md.bars('UUP', '2023-12-18', 2);
    expect(before?.close).toBeCloseTo(29.09, 2);
    expect(after?.close).toBeCloseTo(27.34, 2);
    // The total-return series barely moves on the ex-date.
    expect(Math.abs((after as Bar).adjClose / (before as Bar).adjClose - 1)).toBeLessThan(0.001);
  });

  it('returns bars through a date, ascending, limited to the latest', async () => {
    const all = await md.bars('SPY', '2099-01-01');
    expect(all.length).toBe(8222);
    expect(all[0]?.date).toBe('1993-01-29');
    expect(all.at(-1)?.date).toBe('2025-09-26');
    const week = await md.bars('SPY', '2024-03-10', 5); // a Sunday: through is inclusive, by date
    expect(week.map((b) => b.date)).toEqual(['2024-03-04', '2024-03-05', '2024-03-06', '2024-03-07', '2024-03-08']);
    expect(await md.bars('SPY', '1993-01-28')).toEqual([]);
    expect(await md.bars('SPY', '2024-03-08', 0)).toEqual([]);
    expect((await md.bars('SPY', '1993-02-02', 100)).map((b) => b.date)).toEqual(['1993-01-29', '1993-02-01', '1993-02-02']);
  });

  it('does not let callers corrupt the cache', async () => {
    const bars = await md.bars('SPY', '2024-03-08', 3);
    bars.pop();
    expect(() => {
      (bars[0] as { close: number }).close = 1;
    }).toThrow(TypeError);
    expect((await md.bars('SPY', '2024-03-08', 3)).length).toBe(3);
    expect((await barOn('SPY', '2024-03-06')).close).toBeCloseTo(509.75, 2);
  });

  it('reports the common coverage of several tickers', async () => {
    expect(await md.coverage(['SPY'])).toEqual({ first: '1993-01-29', last: '2025-09-26' });
    expect(await md.coverage(['SPY', 'QQQ'])).toEqual({ first: '1999-03-10', last: '2025-09-26' });
    expect(await md.coverage(['SPY', 'UUP', 'HYG'])).toEqual({ first: '2010-01-04', last: '2025-06-27' });
    await expect(md.coverage([])).rejects.toThrow(/no tickers/);
  });

  it('names the ticker and folder for unknown tickers, and never leaves the folder', async () => {
    await expect(md.bars('XYZ', '2024-01-01')).rejects.toThrow(`no bundled data for ticker XYZ in ${DATA_DIR}`);
    await expect(md.bars('../etf-daily/SPY', '2024-01-01')).rejects.toThrow(/no bundled data for ticker \.\.\/etf-daily\/SPY in /);
    await expect(md.priceAt('XYZ', '2024-03-06', '10:00')).rejects.toThrow(/no bundled data for ticker XYZ/);
    await expect(md.coverage(['SPY', 'XYZ'])).rejects.toThrow(/no bundled data for ticker XYZ/);
  });

  it('rejects bad arguments with clear messages', async () => {
    await expect(md.bars('SPY', '2024-13-01')).rejects.toThrow(/invalid date "2024-13-01"/);
    await expect(md.bars('SPY', '2024-03-08', -1)).rejects.toThrow(/limit must be a non-negative integer/);
    await expect(md.bars('SPY', '2024-03-08', 1.5)).rejects.toThrow(/limit must be a non-negative integer/);
  });
});

describe('BundledMarketData: loading files', () => {
  const good = `${HEADER}\n2024-03-04,10,11,9,10.5,10.4,100\n2024-03-05,10.5,12,10,11,10.9,200\n`;

  it('names the file and line of a malformed row', async () => {
    const dir = tempDir({ 'BAD.csv': `${HEADER}\n2024-03-04,10,11,9,10.5,10.4,100\n2024-03-05,10.5,abc,10,11,10.9,200\n` });
    const file = path.join(dir, 'BAD.csv');
    await expect(new BundledMarketData({ dir }).bars('BAD', '2024-12-31')).rejects.toThrow(`${file}:3: malformed row`);
    await expect(new BundledMarketData({ dir }).bars('BAD', '2024-12-31')).rejects.toThrow(/high/);
  });

  it('reports wrong field counts, blank cells, bad dates, bad headers, inconsistent OHLC and unsorted rows', async () => {
    const cases: Record<string, [string, RegExp]> = {
      FIELDS: [`${HEADER}\n2024-03-04,10,11,9,10.5,100\n`, /FIELDS\.csv:2: expected 7 comma-separated fields, got 6/],
      BLANK: [`${HEADER}\n2024-03-04,10,11,9,10.5,10.4,100\n2024-03-05,10.5,12,10,,10.9,200\n`, /BLANK\.csv:3: malformed row.*close/],
      DATE: [`${HEADER}\n2024-02-30,10,11,9,10.5,10.4,100\n`, /DATE\.csv:2: malformed row.*date/],
      HEAD: [`Date,Open,High,Low,Close,Adj Close,Volume\n2024-03-04,10,11,9,10.5,10.4,100\n`, /HEAD\.csv:1: expected header/],
      OHLC: [`${HEADER}\n2024-03-04,10,11,9,12,10.4,100\n`, /OHLC\.csv:2: malformed row.*inconsistent OHLC/],
      ORDER: [
        `${HEADER}\n2024-03-05,10,11,9,10.5,10.4,100\n2024-03-04,10,11,9,10.5,10.4,100\n`,
        /ORDER\.csv:3: date 2024-03-04 is not after/,
      ],
      NEG: [`${HEADER}\n2024-03-04,10,11,9,10.5,-10.4,100\n`, /NEG\.csv:2: malformed row.*adjClose/],
      EMPTY: [`${HEADER}\n`, /EMPTY\.csv: no data rows/],
    };
    const dir = tempDir(Object.fromEntries(Object.entries(cases).map(([t, [text]]) => [`${t}.csv`, text])));
    const data = new BundledMarketData({ dir });
    for (const [ticker, [, message]] of Object.entries(cases)) {
      await expect(data.bars(ticker, '2024-12-31'), ticker).rejects.toThrow(message);
    }
  });

  it('accepts CRLF line endings and a missing final newline', async () => {
    const dir = tempDir({ 'CRLF.csv': good.trim().replaceAll('\n', '\r\n') });
    const bars = await new BundledMarketData({ dir }).bars('CRLF', '2024-12-31');
    expect(bars).toEqual([
      { date: '2024-03-04', open: 10, high: 11, low: 9, close: 10.5, adjClose: 10.4, volume: 100 },
      { date: '2024-03-05', open: 10.5, high: 12, low: 10, close: 11, adjClose: 10.9, volume: 200 },
    ]);
  });

  it('loads each ticker lazily and once', async () => {
    const dir = tempDir({ 'AAA.csv': good, 'BROKEN.csv': 'garbage' });
    const data = new BundledMarketData({ dir }); // a broken file for another ticker does not matter
    expect((await data.bars('AAA', '2024-12-31')).length).toBe(2);
    unlinkSync(path.join(dir, 'AAA.csv'));
    expect((await data.bars('AAA', '2024-03-04')).length).toBe(1); // served from the cache
    await expect(data.bars('BROKEN', '2024-12-31')).rejects.toThrow(/BROKEN\.csv:1: expected header/);
  });

  it('shares a parsed file between instances until the file changes', async () => {
    const dir = tempDir({ 'SHARED.csv': good });
    const first = await new BundledMarketData({ dir }).bars('SHARED', '2024-12-31');
    const second = await new BundledMarketData({ dir }).bars('SHARED', '2024-12-31');
    expect(second[0]).toBe(first[0]); // the same parsed row: not read again
    writeFileSync(path.join(dir, 'SHARED.csv'), `${good}2024-03-06,11,12,10,11.5,11.4,300\n`);
    const third = await new BundledMarketData({ dir }).bars('SHARED', '2024-12-31');
    expect(third.map((b) => b.date)).toEqual(['2024-03-04', '2024-03-05', '2024-03-06']);
    expect(third[0]).not.toBe(first[0]);
    expect(third[0]).toEqual(first[0]);
    unlinkSync(path.join(dir, 'SHARED.csv'));
    await expect(new BundledMarketData({ dir }).bars('SHARED', '2024-12-31')).rejects.toThrow(/no bundled data for ticker SHARED/);
  });

  it('picks up a fixed file after a failed load', async () => {
    const dir = tempDir({});
    const data = new BundledMarketData({ dir });
    await expect(data.bars('LATE', '2024-12-31')).rejects.toThrow(`no bundled data for ticker LATE in ${dir}`);
    writeFileSync(path.join(dir, 'LATE.csv'), good);
    expect((await data.bars('LATE', '2024-12-31')).length).toBe(2);
  });

  describe('MARKET_DATA_DIR', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('overrides the default folder', async () => {
      const dir = tempDir({ 'SPY.csv': good });
      vi.stubEnv('MARKET_DATA_DIR', dir);
      expect(defaultMarketDataDir()).toBe(dir);
      const data = new BundledMarketData();
      expect(data.dir).toBe(dir);
      expect((await data.bars('SPY', '2099-12-31')).map((b) => b.date)).toEqual(['2024-03-04', '2024-03-05']);
    });

    it('an explicit dir wins over the variable, and an empty variable means the default', () => {
      vi.stubEnv('MARKET_DATA_DIR', '/nonexistent');
      expect(new BundledMarketData({ dir: DATA_DIR }).dir).toBe(DATA_DIR);
      vi.stubEnv('MARKET_DATA_DIR', '');
      expect(defaultMarketDataDir()).toBe(DATA_DIR);
    });
  });
});

describe('priceAt and the intraday model', () => {
  it('gives the exact open at 09:30 and the exact close at and after the close', async () => {
    const bar = await barOn('SPY', '2024-03-06');
    expect(await md.priceAt('SPY', '2024-03-06', '09:30')).toEqual({
      ticker: 'SPY',
      price: bar.open,
      date: '2024-03-06',
      time: '09:30',
      source: 'bar_open',
      approximate: false,
    });
    for (const time of ['16:00', '16:30', '23:59']) {
      expect(await md.priceAt('SPY', '2024-03-06', time)).toEqual({
        ticker: 'SPY',
        price: bar.close,
        date: '2024-03-06',
        time,
        source: 'bar_close',
        approximate: false,
      });
    }
  });

  it("quotes the previous session's close before 09:30 (no look-ahead to the day's open)", async () => {
    const previous = await barOn('SPY', '2024-03-05');
    const q = await md.priceAt('SPY', '2024-03-06', '08:00');
    expect(q).toMatchObject({ price: previous.close, source: 'bar_close', approximate: false, date: '2024-03-05', time: '16:00' });
    // Across a weekend and the Thanksgiving early close: Monday 2024-12-02 pre-open → Friday 11-29's 13:00 close.
    const friday = await barOn('SPY', '2024-11-29');
    expect(await md.priceAt('SPY', '2024-12-02', '09:00')).toMatchObject({ price: friday.close, date: '2024-11-29', time: '13:00' });
  });

  it('on an up day goes open → low (1/3) → high (2/3) → close', async () => {
    const up = await barOn('SPY', '2024-03-07');
    expect(up.close).toBeGreaterThanOrEqual(up.open);
    // 390-minute session: 1/3 at 11:40, 2/3 at 13:50.
    expect((await md.priceAt('SPY', '2024-03-07', '11:40')).price).toBeCloseTo(up.low, 6);
    expect((await md.priceAt('SPY', '2024-03-07', '13:50')).price).toBeCloseTo(up.high, 6);
    expect((await md.priceAt('SPY', '2024-03-07', '10:35')).price).toBeCloseTo((up.open + up.low) / 2, 5);
    expect((await md.priceAt('SPY', '2024-03-07', '14:55')).price).toBeCloseTo((up.high + up.close) / 2, 5);
    const q = await md.priceAt('SPY', '2024-03-07', '12:00');
    expect(q.source).toBe('intraday_model');
    expect(q.approximate).toBe(true);
  });

  it('on a down day goes open → high (1/3) → low (2/3) → close', async () => {
    const down = await barOn('SPY', '2024-03-06');
    expect(down.close).toBeLessThan(down.open);
    expect((await md.priceAt('SPY', '2024-03-06', '11:40')).price).toBeCloseTo(down.high, 6);
    expect((await md.priceAt('SPY', '2024-03-06', '13:50')).price).toBeCloseTo(down.low, 6);
    expect((await md.priceAt('SPY', '2024-03-06', '15:59')).price).toBeCloseTo(down.low + ((down.close - down.low) * 129) / 130, 5);
  });

  it('stays within the bar every minute of the session', () => {
    const bar: Bar = { date: '2024-03-06', open: 100, high: 104, low: 97, close: 102, adjClose: 102, volume: 1 };
    const session = { open: '09:30', close: '16:00' } as const;
    let prev = bar.open;
    for (let m = 9 * 60 + 30; m <= 16 * 60; m++) {
      const time = `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
      const { price } = intradayModelPrice(bar, session, time);
      expect(price).toBeGreaterThanOrEqual(bar.low);
      expect(price).toBeLessThanOrEqual(bar.high);
      // Continuous path: no step larger than one minute of the steepest leg (L→H), plus rounding to 1e-6.
      expect(Math.abs(price - prev)).toBeLessThanOrEqual(7 / 130 + 2e-6);
      prev = price;
    }
  });

  it('respects the 13:00 close of the day after Thanksgiving (2024-11-29)', async () => {
    const bar = await barOn('SPY', '2024-11-29');
    expect(bar.close).toBeGreaterThanOrEqual(bar.open); // an up day
    // 210-minute session: 1/3 at 10:40, 2/3 at 11:50.
    expect((await md.priceAt('SPY', '2024-11-29', '10:40')).price).toBeCloseTo(bar.low, 6);
    expect((await md.priceAt('SPY', '2024-11-29', '11:50')).price).toBeCloseTo(bar.high, 6);
    expect(await md.priceAt('SPY', '2024-11-29', '13:00')).toMatchObject({ price: bar.close, source: 'bar_close', approximate: false });
    expect(await md.priceAt('SPY', '2024-11-29', '14:00')).toMatchObject({ price: bar.close, source: 'bar_close', approximate: false });
    // On a full day 13:00 is still inside the session.
    expect((await md.priceAt('SPY', '2024-11-27', '13:00')).source).toBe('intraday_model');
  });

  it('fails when there is no bar on the date, saying why', async () => {
    await expect(md.priceAt('SPY', '2024-11-28', '10:00')).rejects.toThrow(/no SPY bar on 2024-11-28 \(not an NYSE trading day/);
    await expect(md.priceAt('SPY', '2024-03-09', '10:00')).rejects.toThrow(/not an NYSE trading day/);
    await expect(md.priceAt('SPY', '2026-03-04', '10:00')).rejects.toThrow(/no SPY bar on 2026-03-04 \(outside the bundled data/);
    await expect(md.priceAt('UUP', '2025-09-24', '10:00')).rejects.toThrow(/outside the bundled data; data 2010-01-04 to 2025-06-27/);
  });

  it('rejects malformed dates and times', async () => {
    await expect(md.priceAt('SPY', '2024-03-06', '25:00')).rejects.toThrow(/invalid time "25:00"/);
    await expect(md.priceAt('SPY', '06/03/2024', '10:00')).rejects.toThrow(/invalid date/);
  });
});
