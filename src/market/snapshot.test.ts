import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { MarketData } from '../ports/market-data.js';
import { BundledMarketData } from './bundled-market-data.js';
import { nextTradingDay, tradingDaysBetween } from './calendar.js';
import { adjustedToLastClose, buildSnapshot, roundSig, SNAPSHOT_LOOKBACK_BARS, type UniverseAsset } from './snapshot.js';
import type { Bar, MarketSnapshot } from './types.js';

const DATA_DIR = fileURLToPath(new URL('../../data/etf-daily', import.meta.url));
const TICKERS = ['SPY', 'QQQ', 'IWM', 'TLT', 'IEF', 'HYG', 'LQD', 'UUP', 'GLD', 'USO'];
const UNIVERSE: UniverseAsset[] = TICKERS.map((ticker) => ({ ticker, name: `${ticker} fund`, category: 'test' }));
const md = new BundledMarketData({ dir: DATA_DIR });

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the bundled CSVs with every row after `through` removed. */
function truncatedCopy(through: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmt-pit-'));
  tempDirs.push(dir);
  for (const name of readdirSync(DATA_DIR).filter((f) => f.endsWith('.csv'))) {
    const [header, ...rows] = readFileSync(path.join(DATA_DIR, name), 'utf8').trim().split('\n');
    writeFileSync(path.join(dir, name), [header, ...rows.filter((r) => r.slice(0, 10) <= through)].join('\n') + '\n');
  }
  return dir;
}

function snapshot(through: string, marketData: MarketData = md, universe = UNIVERSE): Promise<MarketSnapshot> {
  return buildSnapshot({ week_id: '2024-03-06', asof_et: '2024-03-06T08:00:00-05:00', through, universe, marketData });
}

function numbersIn(value: unknown, out: number[] = []): number[] {
  if (typeof value === 'number') out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) numbersIn(v, out);
  return out;
}

describe('point in time', () => {
  it.each(['2024-03-05', '2025-01-08', '2020-03-17', '2012-10-26'])(
    'the snapshot through %s is identical when no later bars exist',
    async (through) => {
      const truncated = new BundledMarketData({ dir: truncatedCopy(through) });
      expect((await truncated.coverage(['SPY'])).last).toBe(through);
      const withFuture = await snapshot(through, md);
      const withoutFuture = await snapshot(through, truncated);
      expect(withoutFuture).toEqual(withFuture);
      // The comparison is not vacuous: the next session's bar changes the snapshot.
      const nextDay = await snapshot(nextTradingDay(through), md);
      expect(nextDay.assets).not.toEqual(withFuture.assets);
    },
  );

  it('asks the port only for bars through the given date and never for intraday prices', async () => {
    const calls: string[] = [];
    const recording: MarketData = {
      name: 'recording',
      bars: (t, through, limit) => {
        calls.push(`${t}@${through}#${limit}`);
        return md.bars(t, through, limit);
      },
      priceAt: () => Promise.reject(new Error('priceAt must not be used by a snapshot')),
      lastPrintAt: () => Promise.reject(new Error('lastPrintAt must not be used by a snapshot')),
      coverage: (t) => md.coverage(t),
    };
    const s = await snapshot('2024-03-05', recording);
    expect(s.source).toBe('recording');
    expect(new Set(calls)).toEqual(new Set(TICKERS.map((t) => `${t}@2024-03-05#${SNAPSHOT_LOOKBACK_BARS}`)));
  });

  it('refuses a bar after `through` from a misbehaving adapter', async () => {
    const leaky: MarketData = {
      name: 'leaky',
      bars: async (t, through) => md.bars(t, nextTradingDay(through)),
      priceAt: (t, d, time) => md.priceAt(t, d, time),
      lastPrintAt: (t, d, time) => md.lastPrintAt(t, d, time),
      coverage: (t) => md.coverage(t),
    };
    await expect(snapshot('2024-03-05', leaky)).rejects.toThrow(/leaky returned a \w+ bar dated 2024-03-06, after 2024-03-05/);
  });
});

describe('snapshot fields (SPY and friends through 2024-03-05)', () => {
  it('carries the header fields and the universe in order', async () => {
    const s = await snapshot('2024-03-05');
    expect(s.week_id).toBe('2024-03-06');
    expect(s.asof_et).toBe('2024-03-06T08:00:00-05:00');
    expect(s.data_through).toBe('2024-03-05');
    expect(s.source).toBe('bundled');
    expect(s.assets.map((a) => a.ticker)).toEqual(TICKERS);
    expect(s.assets[0]).toMatchObject({ name: 'SPY fund', category: 'test', last_date: '2024-03-05', last_close: 507.18 });
  });

  it('computes returns, volatility, averages and ranges from the bars', async () => {
    const spy = (await snapshot('2024-03-05')).assets[0];
    const bars = await md.bars('SPY', '2024-03-05', SNAPSHOT_LOOKBACK_BARS);
    const adj = bars.map((b) => b.adjClose);
    const n = adj.length;
    const at = (i: number) => adj[n - 1 - i] as number;
    expect(spy?.returns).toEqual({
      d1: roundSig(at(0) / at(1) - 1),
      w1: roundSig(at(0) / at(5) - 1),
      m1: roundSig(at(0) / at(21) - 1),
      m3: roundSig(at(0) / at(63) - 1),
    });
    expect(spy?.returns.d1).toBeCloseTo(496.406921 / 501.418152 - 1, 6);

    const logs = adj
      .slice(-21)
      .map((v, i, a) => (i === 0 ? 0 : Math.log(v / (a[i - 1] as number))))
      .slice(1);
    const mean = logs.reduce((s, x) => s + x, 0) / 20;
    const vol = Math.sqrt(logs.reduce((s, x) => s + (x - mean) ** 2, 0) / 19) * Math.sqrt(252);
    expect(spy?.realized_vol_20d).toBe(roundSig(vol));

    const adjusted = adjustedToLastClose(bars).map((b) => b.close);
    const sma = (k: number) => adjusted.slice(-k).reduce((s, x) => s + x, 0) / k;
    expect(spy?.sma_20).toBe(roundSig(sma(20)));
    expect(spy?.sma_50).toBe(roundSig(sma(50)));
    expect(spy?.sma_200).toBe(roundSig(sma(200)));

    const year = bars.slice(-252);
    const high = Math.max(...year.map((b) => b.high));
    const low = Math.min(...year.map((b) => b.low));
    expect(spy?.pct_from_52w_high).toBe(roundSig(507.179993 / high - 1));
    expect(spy?.pct_from_52w_low).toBe(roundSig(507.179993 / low - 1));
    expect(spy?.pct_from_52w_high).toBeLessThanOrEqual(0);
    expect(spy?.pct_from_52w_low).toBeGreaterThanOrEqual(0);

    expect(spy?.atr_pct).toBeCloseTo((spy?.atr_14 ?? NaN) / 507.179993, 7); // atr_14 shown is itself rounded
    expect(spy?.corr_spy_60d).toBe(1);
    expect(spy?.rsi_14).toBeGreaterThan(0);
    expect(spy?.rsi_14).toBeLessThan(100);
    expect(spy?.macd?.histogram).toBeCloseTo((spy?.macd?.macd ?? NaN) - (spy?.macd?.signal ?? NaN), 4);
  });

  it('fills every field for the ten ETFs with long histories, with readable precision', async () => {
    const s = await snapshot('2024-03-05');
    for (const a of s.assets) {
      expect(numbersIn(a).every(Number.isFinite), a.ticker).toBe(true);
      expect(
        Object.values(a.returns).every((r) => r !== null),
        a.ticker,
      ).toBe(true);
      for (const key of [
        'realized_vol_20d',
        'sma_20',
        'sma_50',
        'sma_200',
        'ema_20',
        'rsi_14',
        'macd',
        'atr_14',
        'atr_pct',
        'pct_from_52w_high',
        'pct_from_52w_low',
        'corr_spy_60d',
      ] as const) {
        expect(a[key], `${a.ticker}.${key}`).not.toBeNull();
      }
      for (const x of numbersIn(a)) expect(Number(x.toPrecision(6)), a.ticker).toBe(x);
      expect(a.corr_spy_60d).toBeGreaterThanOrEqual(-1);
      expect(a.corr_spy_60d).toBeLessThanOrEqual(1);
    }
    const byTicker = new Map(s.assets.map((a) => [a.ticker, a]));
    expect(byTicker.get('QQQ')?.corr_spy_60d).toBeGreaterThan(0.8);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('uses the last session on or before a weekend `through`, and shows stale series as stale', async () => {
    const weekend = await snapshot('2024-03-09');
    expect(weekend.data_through).toBe('2024-03-09');
    expect(weekend.assets.every((a) => a.last_date === '2024-03-08')).toBe(true);
    const late = await snapshot('2025-09-24');
    const uup = late.assets.find((a) => a.ticker === 'UUP');
    expect(uup?.last_date).toBe('2025-06-27'); // UUP's data ends there (SOURCE.md)
    expect(late.assets.find((a) => a.ticker === 'SPY')?.last_date).toBe('2025-09-24');
  });

  it('computes correlation with SPY even when SPY is not in the universe', async () => {
    const s = await snapshot('2024-03-05', md, [{ ticker: 'QQQ', name: 'Nasdaq 100', category: 'equity' }]);
    const full = await snapshot('2024-03-05');
    expect(s.assets.map((a) => a.ticker)).toEqual(['QQQ']);
    expect(s.assets[0]).toEqual({ ...full.assets[1], name: 'Nasdaq 100', category: 'equity' });
  });

  it('removes distribution drops from the price-level series (UUP ex-date 2023-12-18)', async () => {
    const bars = await md.bars('UUP', '2023-12-29', 30);
    const adjusted = adjustedToLastClose(bars);
    const i = bars.findIndex((b) => b.date === '2023-12-18');
    const rawMove = (bars[i] as Bar).close / (bars[i - 1] as Bar).close - 1;
    const adjMove = (adjusted[i]?.close ?? NaN) / (adjusted[i - 1]?.close ?? NaN) - 1;
    expect(rawMove).toBeLessThan(-0.05);
    expect(Math.abs(adjMove)).toBeLessThan(0.001);
    expect(adjusted.at(-1)?.close).toBeCloseTo((bars.at(-1) as Bar).close, 10); // pinned to the traded close
    expect(adjusted.every((b) => b.low <= b.close && b.close <= b.high)).toBe(true);
  });
});

describe('short histories', () => {
  it('returns null for indicators that need more bars than exist', async () => {
    const dates = tradingDaysBetween('2024-01-02', '2024-03-28'); // 61 sessions
    expect(dates.length).toBe(61);
    const csv = (drift: number) =>
      'date,open,high,low,close,adj_close,volume\n' +
      dates
        .map((d, i) => {
          const c = 100 + drift * i + Math.sin(i) * 2;
          return `${d},${c.toFixed(4)},${(c + 1).toFixed(4)},${(c - 1).toFixed(4)},${c.toFixed(4)},${c.toFixed(4)},1000`;
        })
        .join('\n');
    const dir = mkdtempSync(path.join(tmpdir(), 'llmt-short-'));
    tempDirs.push(dir);
    writeFileSync(path.join(dir, 'SPY.csv'), csv(0.1));
    writeFileSync(path.join(dir, 'NEW.csv'), csv(-0.05));
    const data = new BundledMarketData({ dir });
    const universe = [{ ticker: 'NEW', name: 'New fund', category: 'test' }];

    const s = await snapshot('2024-03-28', data, universe);
    const a = s.assets[0];
    expect(a?.returns.m1).not.toBeNull();
    expect(a?.returns.m3).toBeNull(); // needs 64 bars
    expect(a?.sma_20).not.toBeNull();
    expect(a?.sma_50).not.toBeNull();
    expect(a?.sma_200).toBeNull();
    expect(a?.macd).not.toBeNull(); // needs 34
    expect(a?.pct_from_52w_high).toBeNull();
    expect(a?.pct_from_52w_low).toBeNull();
    expect(a?.corr_spy_60d).not.toBeNull(); // 61 common dates = 60 returns, just enough

    const shorter = (await snapshot('2024-03-27', data, universe)).assets[0];
    expect(shorter?.corr_spy_60d).toBeNull();

    const tiny = (await snapshot('2024-01-03', data, universe)).assets[0];
    expect(tiny).toMatchObject({
      last_date: '2024-01-03',
      returns: { d1: expect.any(Number), w1: null, m1: null, m3: null },
      realized_vol_20d: null,
      sma_20: null,
      ema_20: null,
      rsi_14: null,
      macd: null,
      atr_14: null,
      atr_pct: null,
      corr_spy_60d: null,
    });
  });

  it('fails clearly without any bar, or with bad input', async () => {
    await expect(snapshot('1990-01-02')).rejects.toThrow(/no SPY bars on or before 1990-01-02 in bundled/);
    await expect(snapshot('2024-02-30')).rejects.toThrow(/invalid through date/);
    await expect(snapshot('2024-03-05', md, [])).rejects.toThrow(/empty universe/);
    await expect(snapshot('2024-03-05', md, [{ ticker: 'XYZ', name: 'x', category: 'x' }])).rejects.toThrow(
      /no bundled data for ticker XYZ/,
    );
  });
});
