/**
 * Contrarian: fade the month's strongest risk-adjusted movers and favour assets near their 52-week
 * lows whose momentum is turning up (MACD histogram and the last week both positive). It shorts the
 * strongest mover only when that move is extreme (RSI ≥ 70 and a 1m z-score ≥ 1.5): fading an
 * ordinary rally is just fighting the trend.
 */
import { type Level, byText, pct, rsi, signedNum, signedPct } from '../../../research/offline/snapshot-text.js';
import type { Direction } from '../../../schemas/index.js';
import { clamp, type Features } from '../features.js';
import {
  type PersonaSpec,
  type Scored,
  type Selection,
  closeVsLevel,
  macdIndicator,
  stopLevel,
  stopText,
  topOrFlat,
  priceTrigger,
} from '../persona-spec.js';

/** Distance above the 52w low at which "near the low" stops counting. */
const NEAR_LOW = 0.15;
const EXTREME_RSI = 70;
const EXTREME_M1Z = 1.5;

function score(f: Features): { score: number; reason: string } {
  const fade = -clamp(f.m1z / 2, -1, 1);
  const fromLow = f.asset.pct_from_52w_low;
  const nearLow = fromLow === null ? 0 : clamp(1 - fromLow / NEAR_LOW, -1, 1);
  const improving = 0.5 * Math.sign(f.macdHist ?? 0) + 0.5 * Math.sign(f.w1 ?? 0);
  const s = 0.4 * fade + 0.35 * nearLow + 0.25 * improving;
  return {
    score: s,
    reason:
      `contrarian score ${signedNum(s)}: fades 1m ${signedPct(f.m1)} (z ${signedNum(f.m1z, 1)}); ${pct(fromLow)} above the 52w low; ` +
      `MACD hist ${signedNum(f.macdHist, 3)}, 1w ${signedPct(f.w1)}`,
  };
}

function select(ranked: readonly Scored[]): Selection {
  const top = ranked[0];
  if (!top) throw new Error('cannot select from an empty ranking');
  const extremes = ranked
    .filter((s) => s.f !== null && (s.f.rsi ?? 0) >= EXTREME_RSI && s.f.m1z >= EXTREME_M1Z)
    .sort((a, b) => (b.f?.m1z ?? 0) - (a.f?.m1z ?? 0) || byText(a.ticker, b.ticker));
  const crowded = extremes[0];
  if (crowded?.f && crowded.score < 0 && -crowded.score >= top.score) {
    return {
      ticker: crowded.ticker,
      direction: 'SHORT',
      why: `Fade the crowded move: ${crowded.ticker} 1m ${signedPct(crowded.f.m1)} (z ${signedNum(crowded.f.m1z, 1)}) with RSI ${rsi(crowded.f.rsi)}, score ${crowded.score.toFixed(2)}.`,
    };
  }
  const pick = topOrFlat(ranked, 'contrarian');
  if (pick.direction !== 'LONG' || !top.f) return pick;
  return {
    ...pick,
    why: `${top.ticker} has the best contrarian score, ${top.score.toFixed(2)}: 1m ${signedPct(top.f.m1)}, ${pct(top.f.asset.pct_from_52w_low)} above its 52w low, MACD hist ${signedNum(top.f.macdHist, 3)}, 1w ${signedPct(top.f.w1)}.`,
  };
}

/** The 52w extreme or 2 ATRs, whichever is closer: a contrarian is wrong fast or not at all. */
function contrarianStop(f: Features, direction: Direction): Level {
  const extreme = stopLevel(f, direction, direction === 'SHORT' ? ['52w high'] : ['52w low'], 2);
  const atrStop = stopLevel(f, direction, [], 2);
  return Math.abs(extreme.value - f.close) <= Math.abs(atrStop.value - f.close) ? extreme : atrStop;
}

export const contrarian: PersonaSpec = {
  name: 'contrarian',
  description:
    'Contrarian: fades the strongest vol-adjusted 1m movers, favours assets near 52w lows with improving MACD/1w momentum; shorts an extreme crowded rally.',
  horizon: '3D',
  score,
  select,
  trigger(f, direction) {
    return priceTrigger(f, direction, contrarianStop(f, direction));
  },
  invalidation(f, direction) {
    return `Exit if ${stopText(f, direction, contrarianStop(f, direction))}: the move is continuing, not turning.`;
  },
  indicators(f, direction) {
    return [
      closeVsLevel(f, direction, contrarianStop(f, direction)),
      macdIndicator(f, direction),
      {
        name: `${f.ticker} 1w return`,
        expected_signal: `${direction === 'SHORT' ? ((f.w1 ?? 0) < 0 ? 'stays' : 'turns') + ' negative' : ((f.w1 ?? 0) > 0 ? 'stays' : 'turns') + ' positive'} (now ${signedPct(f.w1)})`,
        flip_condition:
          direction === 'SHORT'
            ? `1w return above ${signedPct(Math.max(0, f.w1 ?? 0) + 0.01)}`
            : `1w return below ${signedPct(Math.min(0, f.w1 ?? 0) - 0.01)}`,
      },
    ];
  },
};
