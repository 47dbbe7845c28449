/**
 * Time-series momentum: own what has been rising on a risk-adjusted basis and is above its 50- and
 * 200-day averages; short what is falling harder than anything is rising. Returns are scaled by
 * the asset's own volatility (z-scores) so a calm uptrend in credit counts as much as a loud one in
 * equities, which is how TSMOM allocators compare assets.
 */
import { price, signedNum, signedPct, pct } from '../../../research/offline/snapshot-text.js';
import { clamp, vote, type Features } from '../features.js';
import {
  MIN_POSITION_SCORE,
  type PersonaSpec,
  type Scored,
  type Selection,
  closeVsLevel,
  macdIndicator,
  rsiIndicator,
  stopLevel,
  stopText,
  topOrFlat,
  priceTrigger,
} from '../persona-spec.js';

/** A downtrend must beat the best uptrend by this much before the persona prefers to short. */
const SHORT_EDGE = 0.2;

function score(f: Features): { score: number; reason: string } {
  const mom3 = clamp(f.m3z, -3, 3) / 3;
  const mom1 = clamp(f.m1z, -3, 3) / 3;
  const s = 0.35 * mom3 + 0.25 * mom1 + 0.15 * vote(f.aboveSma50) + 0.15 * vote(f.aboveSma200) + 0.1 * Math.sign(f.macdHist ?? 0);
  const a = f.asset;
  const side = (above: boolean | null): string => (above === null ? 'n/a' : above ? 'above' : 'below');
  const reason =
    `trend score ${signedNum(s)}: 3m ${signedPct(f.m3)} (z ${signedNum(f.m3z, 1)}), 1m ${signedPct(f.m1)} (z ${signedNum(f.m1z, 1)}) at ${pct(f.vol)} vol; ` +
    `close ${price(f.close)} ${side(f.aboveSma50)} SMA50 ${price(a.sma_50)}, ${side(f.aboveSma200)} SMA200 ${price(a.sma_200)}; MACD hist ${signedNum(f.macdHist, 3)}`;
  return { score: s, reason };
}

function select(ranked: readonly Scored[]): Selection {
  const top = ranked[0];
  const bottom = ranked[ranked.length - 1];
  if (top && bottom && bottom.score < -MIN_POSITION_SCORE && -bottom.score > top.score + SHORT_EDGE) {
    return {
      ticker: bottom.ticker,
      direction: 'SHORT',
      why: `The strongest trend is down: ${bottom.ticker} scores ${bottom.score.toFixed(2)} against the best uptrend ${top.ticker} at ${top.score.toFixed(2)}.`,
    };
  }
  return topOrFlat(ranked, 'trend');
}

export const trend: PersonaSpec = {
  name: 'trend',
  description:
    'Time-series momentum: vol-adjusted 3m/1m returns, price vs SMA50/SMA200 and MACD; owns the strongest trend, shorts a dominant downtrend.',
  horizon: '1W',
  score,
  select,
  trigger(f, direction) {
    return priceTrigger(f, direction, stopLevel(f, direction, ['SMA20', 'SMA50'], 2));
  },
  invalidation(f, direction) {
    const stop = stopLevel(f, direction, ['SMA20', 'SMA50'], 2);
    return `Exit if ${stopText(f, direction, stop)}: the trend would be broken.`;
  },
  indicators(f, direction) {
    const stop = stopLevel(f, direction, ['SMA20', 'SMA50'], 2);
    const out = [closeVsLevel(f, direction, stop), macdIndicator(f, direction), rsiIndicator(f, direction, 50)];
    if (f.asset.sma_50 !== null && stop.name !== 'SMA50') out.push(closeVsLevel(f, direction, { name: 'SMA50', value: f.asset.sma_50 }));
    return out;
  },
};
