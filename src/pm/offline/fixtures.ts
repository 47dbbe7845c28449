/**
 * A hand-written, realistic market snapshot for tests of the offline agents. The numbers are the
 * bundled data's indicators for the week of 2025-06-25 (data through Tuesday 2025-06-24: equities
 * near highs after the Israel–Iran ceasefire, oil −7% on the week, the dollar near its 52w low),
 * rounded as a reader would, so fixtures read like real markets and exercise real disagreements.
 */
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';
import type { Asset, WeekContext } from '../../ports/agents.js';

const UNIVERSE: readonly Asset[] = [
  { ticker: 'SPY', category: 'risk_on_equities', name: 'SPDR S&P 500 ETF Trust' },
  { ticker: 'QQQ', category: 'risk_on_equities', name: 'Invesco QQQ Trust (Nasdaq-100)' },
  { ticker: 'IWM', category: 'risk_on_equities', name: 'iShares Russell 2000 ETF' },
  { ticker: 'TLT', category: 'duration', name: 'iShares 20+ Year Treasury Bond ETF' },
  { ticker: 'IEF', category: 'duration', name: 'iShares 7-10 Year Treasury Bond ETF' },
  { ticker: 'HYG', category: 'credit', name: 'iShares iBoxx High Yield Corporate Bond ETF' },
  { ticker: 'LQD', category: 'credit', name: 'iShares iBoxx Investment Grade Corporate Bond ETF' },
  { ticker: 'UUP', category: 'usd', name: 'Invesco DB US Dollar Index Bullish Fund' },
  { ticker: 'GLD', category: 'gold', name: 'SPDR Gold Shares' },
  { ticker: 'USO', category: 'oil', name: 'United States Oil Fund' },
];

const LAST_DATE = '2025-06-24';

/** One row: close, returns [d1,w1,m1,m3], vol, [sma20,sma50,sma200,ema20], rsi, [macd,signal,hist], atr, [from high, from low], corr. */
function row(
  ticker: string,
  close: number,
  returns: [number, number, number, number],
  vol: number,
  averages: [number, number, number, number],
  rsi: number,
  macd: [number, number, number],
  atr: number,
  range: [number, number],
  corr: number,
): AssetSnapshot {
  const asset = UNIVERSE.find((a) => a.ticker === ticker);
  if (!asset) throw new Error(`fixture: unknown ticker ${ticker}`);
  return {
    ticker,
    name: asset.name,
    category: asset.category,
    last_date: LAST_DATE,
    last_close: close,
    returns: { d1: returns[0], w1: returns[1], m1: returns[2], m3: returns[3] },
    realized_vol_20d: vol,
    sma_20: averages[0],
    sma_50: averages[1],
    sma_200: averages[2],
    ema_20: averages[3],
    rsi_14: rsi,
    macd: { macd: macd[0], signal: macd[1], histogram: macd[2] },
    atr_14: atr,
    atr_pct: Number((atr / close).toPrecision(6)),
    pct_from_52w_high: range[0],
    pct_from_52w_low: range[1],
    corr_spy_60d: corr,
  };
}

/** The ten-ETF universe of config/assets.yaml. */
export function sampleUniverse(): Asset[] {
  return UNIVERSE.map((a) => ({ ...a }));
}

/** Snapshot of the week 2025-06-25 (decision Wednesday), data through 2025-06-24. */
export function sampleSnapshot(): MarketSnapshot {
  return {
    week_id: '2025-06-25',
    asof_et: '2025-06-25T08:00:00-04:00',
    data_through: LAST_DATE,
    source: 'bundled',
    assets: [
      row(
        'SPY',
        606.78,
        [0.011, 0.0098, 0.0437, 0.0601],
        0.1214,
        [596.95, 574.96, 580.39, 595.49],
        63.4,
        [6.388, 7.311, -0.924],
        7.22,
        [-0.0105, 0.2594],
        1,
      ),
      row(
        'QQQ',
        539.78,
        [0.0153, 0.0114, 0.0513, 0.1013],
        0.1426,
        [528.09, 501.48, 500.23, 526.18],
        66.1,
        [7.869, 8.971, -1.102],
        7.85,
        [-0.0019, 0.3414],
        0.99,
      ),
      row(
        'IWM',
        214.47,
        [0.0127, 0.0176, 0.0584, 0.0297],
        0.1695,
        [209.78, 202.38, 215.61, 209.53],
        62.4,
        [2.241, 2.437, -0.196],
        3.41,
        [-0.1245, 0.2489],
        0.95,
      ),
      row(
        'TLT',
        87.4,
        [0.0073, 0.0227, 0.0393, -0.0157],
        0.133,
        [86.11, 86.67, 90.39, 86.34],
        56.7,
        [0.079, -0.139, 0.219],
        1.01,
        [-0.1401, 0.0492],
        0.18,
      ),
      row(
        'IEF',
        95.26,
        [0.0035, 0.0132, 0.0222, 0.0182],
        0.0614,
        [94.28, 94.35, 94.57, 94.39],
        60.9,
        [0.164, 0.028, 0.136],
        0.51,
        [-0.0395, 0.0459],
        -0.14,
      ),
      row(
        'HYG',
        80.17,
        [0.0028, 0.0082, 0.02, 0.024],
        0.0319,
        [79.51, 78.9, 79.21, 79.51],
        67.1,
        [0.242, 0.205, 0.038],
        0.28,
        [-0.0025, 0.0678],
        0.92,
      ),
      row(
        'LQD',
        108.92,
        [0.0047, 0.0123, 0.0294, 0.0175],
        0.065,
        [107.7, 107.14, 108.6, 107.77],
        62.9,
        [0.368, 0.25, 0.118],
        0.65,
        [-0.0451, 0.0529],
        0.49,
      ),
      row(
        'UUP',
        27.15,
        [-0.0051, -0.0018, -0.0152, -0.049],
        0.0708,
        [27.35, 27.44, 28.7, 27.36],
        41.2,
        [-0.085, -0.089, 0.004],
        0.17,
        [-0.1153, 0.0059],
        0.32,
      ),
      row(
        'GLD',
        306.19,
        [-0.0157, -0.0179, 0.0102, 0.1044],
        0.1729,
        [308.75, 305.72, 267.23, 308.49],
        48.5,
        [1.963, 2.47, -0.507],
        4.37,
        [-0.036, 0.4435],
        -0.01,
      ),
      row(
        'USO',
        73,
        [-0.0446, -0.0711, 0.0873, -0.0251],
        0.5175,
        [73.45, 69.59, 72.81, 74.62],
        48.9,
        [2.75, 2.561, 0.19],
        2.84,
        [-0.1369, 0.2032],
        0.42,
      ),
    ],
  };
}

/** The week context the pipeline would hand to every agent for the sample snapshot. */
export function sampleContext(snapshot: MarketSnapshot = sampleSnapshot()): WeekContext {
  return { week_id: snapshot.week_id, asof_et: snapshot.asof_et, universe: sampleUniverse(), snapshot };
}

/** A copy of the snapshot with one asset's fields overridden, for scenario tests. */
export function withAsset(snapshot: MarketSnapshot, ticker: string, patch: Partial<AssetSnapshot>): MarketSnapshot {
  return { ...snapshot, assets: snapshot.assets.map((a) => (a.ticker === ticker ? { ...a, ...patch } : a)) };
}
