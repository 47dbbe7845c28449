/**
 * Short-horizon mean reversion: buy what is oversold (low RSI, stretched below SMA20 in ATR units),
 * fade what is overbought. It shorts only a genuinely overbought asset (RSI ≥ 70) whose stretch is
 * larger than the best oversold setup, since fading strength in an uptrend is the costlier mistake.
 */
import { price, rsi, signedNum } from '../../../research/offline/snapshot-text.js';
import type { Direction } from '../../../schemas/index.js';
import { clamp, type Features } from '../features.js';
import {
  type PersonaSpec,
  type Scored,
  type Selection,
  closeVsLevel,
  rsiIndicator,
  stopLevel,
  stopText,
  topOrFlat,
  priceTrigger,
} from '../persona-spec.js';

const OVERBOUGHT_RSI = 70;

function score(f: Features): { score: number; reason: string } {
  const rsiTerm = f.rsi === null ? 0 : clamp((50 - f.rsi) / 20, -1.5, 1.5);
  const stretchTerm = f.stretchAtr === null ? 0 : -clamp(f.stretchAtr / 2, -1.5, 1.5);
  // tanh rather than a clamp: two extremes must still rank against each other, not tie at -1.
  const s = Math.tanh(0.6 * (rsiTerm + stretchTerm));
  const a = f.asset;
  const stretch = f.stretchAtr === null ? 'n/a' : `${Math.abs(f.stretchAtr).toFixed(1)} ATR ${f.stretchAtr >= 0 ? 'above' : 'below'}`;
  return {
    score: s,
    reason: `reversion score ${signedNum(s)}: RSI ${rsi(f.rsi)}; close ${price(f.close)} is ${stretch} SMA20 ${price(a.sma_20)} (ATR ${price(a.atr_14)})`,
  };
}

/** The RSI level that says the stretch is extending: 8 points further out, within 15..85. */
function rsiLimit(f: Features, direction: Direction): number {
  return direction === 'SHORT' ? Math.min(85, Math.round((f.rsi ?? 70) + 8)) : Math.max(15, Math.round((f.rsi ?? 30) - 8));
}

function select(ranked: readonly Scored[]): Selection {
  const top = ranked[0];
  const bottom = ranked[ranked.length - 1];
  const bottomRsi = bottom?.f?.rsi ?? null;
  if (top && bottom && bottomRsi !== null && bottomRsi >= OVERBOUGHT_RSI && -bottom.score >= top.score) {
    return {
      ticker: bottom.ticker,
      direction: 'SHORT',
      why: `${bottom.ticker} is the most overbought (RSI ${rsi(bottomRsi)}, score ${bottom.score.toFixed(2)}), a larger stretch than the best oversold setup ${top.ticker} (${top.score.toFixed(2)}).`,
    };
  }
  return topOrFlat(ranked, 'oversold');
}

export const meanReversion: PersonaSpec = {
  name: 'mean-reversion',
  description:
    'Mean reversion: RSI(14) extremes and distance from SMA20 in ATRs; buys the most oversold, shorts an overbought extreme (RSI >= 70).',
  horizon: '3D',
  score,
  select,
  trigger(f, direction) {
    return priceTrigger(f, direction, stopLevel(f, direction, [], 1.5));
  },
  invalidation(f, direction) {
    const stop = stopLevel(f, direction, [], 1.5);
    const rsiSide = direction === 'SHORT' ? 'above' : 'below';
    return `Exit if ${stopText(f, direction, stop)} or RSI(14) ${rsiSide} ${rsiLimit(f, direction)}: the stretch is extending, not reverting.`;
  },
  indicators(f, direction) {
    const stop = stopLevel(f, direction, [], 1.5);
    const out = [closeVsLevel(f, direction, stop)];
    const sma20 = f.asset.sma_20;
    if (sma20 !== null) {
      out.push({
        name: `${f.ticker} distance to SMA20 ${price(sma20)}`,
        expected_signal: `gap closes toward ${price(sma20)} (now ${f.stretchAtr === null ? 'n/a' : Math.abs(f.stretchAtr).toFixed(1)} ATR away)`,
        flip_condition: `gap widens beyond ${(Math.abs(f.stretchAtr ?? 0) + 1).toFixed(1)} ATR`,
      });
    }
    out.push(rsiIndicator(f, direction, rsiLimit(f, direction)));
    return out;
  },
};
