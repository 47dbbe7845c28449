/**
 * Neutral, scenario-conditional setups: what would make each asset work or fail this week, stated as
 * conditions on levels that exist in the snapshot. The research layer must not pick trades (the PMs
 * do), so these texts carry no directional recommendation words; a test enforces that.
 */
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';
import type { ResearchPack } from '../../schemas/index.js';
import { distance, high52, levelAbove, levelBelow, low52, num, pct, price, rsi, signedPct, snapshotLevels } from './snapshot-text.js';

export type AssetSetup = ResearchPack['asset_setups'][number];

/** Macro conditions per category that would help or hurt, phrased as scenarios. */
const SCENARIOS: Record<string, { bull: string; bear: string }> = {
  risk_on_equities: {
    bull: 'credit stays calm (HYG holding its SMA50) and earnings or growth data keep surprising upward',
    bear: 'credit spreads widen (HYG losing its SMA50) or growth data roll over',
  },
  duration: {
    bull: 'incoming labor and inflation data cool and Treasury yields ease',
    bear: 'strong data or heavy Treasury supply push yields higher',
  },
  credit: {
    bull: 'equity volatility stays contained and spreads remain tight',
    bear: 'an equity drawdown or default headlines widen spreads',
  },
  usd: {
    bull: 'US data outpace other economies and rate-cut expectations recede',
    bear: 'the expected Fed path turns more dovish than other central banks',
  },
  gold: {
    bull: 'real yields and the dollar (UUP) ease or geopolitical stress rises',
    bear: 'real yields climb and the dollar strengthens',
  },
  oil: {
    bull: 'supply disruptions or geopolitical risk re-escalate while demand holds',
    bear: 'supply risk fades, inventories build or demand data disappoint',
  },
};

const GENERIC = { bull: 'the macro backdrop supports the asset', bear: 'the macro backdrop turns against the asset' };

function contextOf(a: AssetSnapshot): string {
  const parts = [
    `${a.ticker} (${a.name}) closed ${price(a.last_close)} on ${a.last_date}`,
    `returns 1w ${signedPct(a.returns.w1)}, 1m ${signedPct(a.returns.m1)}, 3m ${signedPct(a.returns.m3)}`,
    `RSI(14) ${rsi(a.rsi_14)}`,
    `MACD histogram ${num(a.macd?.histogram ?? null, 3)}`,
    `close vs SMA20 ${signedPct(a.sma_20 === null ? null : a.last_close / a.sma_20 - 1)}, SMA50 ${signedPct(a.sma_50 === null ? null : a.last_close / a.sma_50 - 1)}, SMA200 ${signedPct(a.sma_200 === null ? null : a.last_close / a.sma_200 - 1)}`,
    `${pct(a.pct_from_52w_high)} below the 52w high ${price(high52(a))} and ${pct(a.pct_from_52w_low)} above the 52w low ${price(low52(a))}`,
    `ATR(14) ${price(a.atr_14)} (${pct(a.atr_pct, 2)} of price), 20d realized vol ${pct(a.realized_vol_20d)}`,
  ];
  return `${parts.join('; ')}.`;
}

function bullCase(a: AssetSnapshot): string {
  const above = levelAbove(a);
  const trigger = above
    ? `a daily close above ${above.name} ${price(above.value)} (${signedPct(distance(a, above.value))} from ${price(a.last_close)})`
    : `a daily close at a new 52w high above ${price(a.last_close)}`;
  const scenario = SCENARIOS[a.category] ?? GENERIC;
  return `Upside scenario if ${trigger} and ${scenario.bull}.`;
}

function bearCase(a: AssetSnapshot): string {
  const below = levelBelow(a);
  const trigger = below
    ? `a daily close below ${below.name} ${price(below.value)} (${signedPct(distance(a, below.value))} from ${price(a.last_close)})`
    : `a daily close at a new 52w low under ${price(a.last_close)}`;
  const scenario = SCENARIOS[a.category] ?? GENERIC;
  return `Downside scenario if ${trigger} and ${scenario.bear}.`;
}

export function assetSetup(a: AssetSnapshot): AssetSetup {
  return {
    ticker: a.ticker,
    context: contextOf(a),
    bull_case_if: bullCase(a),
    bear_case_if: bearCase(a),
    key_levels: snapshotLevels(a),
  };
}

/** One setup per universe ticker, in universe order; a ticker missing from the snapshot says so. */
export function assetSetups(snapshot: MarketSnapshot, tickers: readonly string[]): AssetSetup[] {
  const by = new Map(snapshot.assets.map((a) => [a.ticker, a]));
  return tickers.map((ticker) => {
    const a = by.get(ticker);
    if (a) return assetSetup(a);
    return {
      ticker,
      context: `${ticker}: no bars in the snapshot through ${snapshot.data_through}.`,
      bull_case_if: 'Not assessable without data.',
      bear_case_if: 'Not assessable without data.',
      key_levels: [],
    };
  });
}
