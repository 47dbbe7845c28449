/**
 * The point-in-time market snapshot given to PMs, the chairman and checkpoints.
 *
 * Point in time: every number comes from bars dated on or before `through` (the caller passes the
 * last session before the decision). We ask the MarketData port for bars through that date only and
 * additionally refuse any later bar it returns, so a look-ahead cannot slip in through an adapter.
 *
 * Series used: returns and realized vol from adj_close (total return); SMA/EMA/RSI/MACD/ATR from
 * high/low/close rescaled by adj_close and pinned to the last traded close (see adjustedToLastClose);
 * the 52-week range from raw highs and lows, as types.ts specifies.
 */
import type { MarketData } from '../ports/market-data.js';
import {
  atrSeries,
  emaSeries,
  lastOf,
  macdSeries,
  rangeOf,
  realizedVol,
  returnCorrelation,
  rsiSeries,
  lastSma,
  trailingReturn,
} from './indicators.js';
import { isValidDate } from './calendar.js';
import type { AssetSnapshot, Bar, MarketSnapshot } from './types.js';

/**
 * Bars fed to the indicators. SMA 200 and the 252-bar range need ≤ 252; the rest lets the EMA and
 * Wilder seeds fade below 1e-12, and a fixed window makes the result independent of how far back a
 * data source happens to reach.
 */
export const SNAPSHOT_LOOKBACK_BARS = 600;
const YEAR_BARS = 252;
const BENCHMARK = 'SPY';

export interface UniverseAsset {
  ticker: string;
  name: string;
  category: string;
}

export interface BuildSnapshotInput {
  week_id: string;
  asof_et: string;
  /** Last session date whose bar may be used (inclusive). */
  through: string;
  universe: readonly UniverseAsset[];
  marketData: MarketData;
}

/** 6 significant digits: enough for any decision, short enough to read in JSON and prompts. */
export function roundSig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : roundSig(x);
}

async function barsThrough(marketData: MarketData, ticker: string, through: string): Promise<Bar[]> {
  const bars = await marketData.bars(ticker, through, SNAPSHOT_LOOKBACK_BARS);
  const late = bars.find((b) => b.date > through);
  if (late) throw new Error(`${marketData.name} returned a ${ticker} bar dated ${late.date}, after ${through}`);
  if (bars.length === 0) throw new Error(`no ${ticker} bars on or before ${through} in ${marketData.name}`);
  return bars;
}

/**
 * High/low/close rescaled onto the total-return path, pinned so the last close is the traded one.
 * Raw closes drop on every ex-distribution date (UUP fell 6% on 2023-12-18 with no change in value),
 * which would show up as fake sell-offs in RSI, MACD and the averages; rescaling by adj_close removes
 * them while keeping levels comparable with last_close. The factor adj_t / adj_last only involves
 * distributions between t and the last bar, so this stays point-in-time.
 */
export function adjustedToLastClose(bars: readonly Bar[]): { high: number; low: number; close: number }[] {
  const last = bars[bars.length - 1];
  if (!last) return [];
  const pin = last.close / last.adjClose;
  return bars.map((b) => {
    const f = (b.adjClose / b.close) * pin;
    return { high: b.high * f, low: b.low * f, close: b.close * f };
  });
}

/** Indicators of one instrument from its bars (ascending, all ≤ through) and the benchmark's bars. */
export function assetSnapshot(asset: UniverseAsset, bars: readonly Bar[], benchmark: readonly Bar[]): AssetSnapshot {
  const last = bars[bars.length - 1];
  if (!last) throw new Error(`no bars for ${asset.ticker}`);
  const adj = bars.map((b) => b.adjClose);
  const adjusted = adjustedToLastClose(bars);
  const closes = adjusted.map((b) => b.close);
  const atr = lastOf(atrSeries(adjusted, 14));
  const macd = lastOf(macdSeries(closes, 12, 26, 9));
  const range = rangeOf(bars, YEAR_BARS);
  const corr =
    asset.ticker === BENCHMARK
      ? bars.length > 60
        ? 1
        : null
      : returnCorrelation(
          bars.map((b) => ({ date: b.date, value: b.adjClose })),
          benchmark.map((b) => ({ date: b.date, value: b.adjClose })),
          60,
        );
  return {
    ticker: asset.ticker,
    name: asset.name,
    category: asset.category,
    last_date: last.date,
    last_close: roundSig(last.close),
    returns: {
      d1: roundOrNull(trailingReturn(adj, 1)),
      w1: roundOrNull(trailingReturn(adj, 5)),
      m1: roundOrNull(trailingReturn(adj, 21)),
      m3: roundOrNull(trailingReturn(adj, 63)),
    },
    realized_vol_20d: roundOrNull(realizedVol(adj, 20)),
    sma_20: roundOrNull(lastSma(closes, 20)),
    sma_50: roundOrNull(lastSma(closes, 50)),
    sma_200: roundOrNull(lastSma(closes, 200)),
    ema_20: roundOrNull(lastOf(emaSeries(closes, 20))),
    rsi_14: roundOrNull(lastOf(rsiSeries(closes, 14))),
    macd: macd ? { macd: roundSig(macd.macd), signal: roundSig(macd.signal), histogram: roundSig(macd.histogram) } : null,
    atr_14: roundOrNull(atr),
    atr_pct: roundOrNull(atr === null ? null : atr / last.close),
    pct_from_52w_high: roundOrNull(range ? last.close / range.high - 1 : null),
    pct_from_52w_low: roundOrNull(range ? last.close / range.low - 1 : null),
    corr_spy_60d: roundOrNull(corr),
  };
}

export async function buildSnapshot(input: BuildSnapshotInput): Promise<MarketSnapshot> {
  const { week_id, asof_et, through, universe, marketData } = input;
  if (!isValidDate(through)) throw new Error(`buildSnapshot: invalid through date "${through}", expected YYYY-MM-DD`);
  if (universe.length === 0) throw new Error('buildSnapshot: empty universe');
  const tickers = [...new Set([BENCHMARK, ...universe.map((a) => a.ticker)])];
  const loaded = await Promise.all(tickers.map(async (t) => [t, await barsThrough(marketData, t, through)] as const));
  const barsOf = new Map(loaded);
  const benchmark = barsOf.get(BENCHMARK) as Bar[];
  return {
    week_id,
    asof_et,
    data_through: through,
    source: marketData.name,
    assets: universe.map((a) => assetSnapshot(a, barsOf.get(a.ticker) as Bar[], benchmark)),
  };
}
