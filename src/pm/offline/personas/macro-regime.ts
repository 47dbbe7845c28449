/**
 * Top-down macro: map the research regime (risk mode and the rates, USD, inflation and growth
 * impulses) onto each asset's typical sensitivities, then ask the price to confirm with its 1m move.
 * It shorts the asset the regime is most against when that beats the best long, and stays FLAT when
 * the regime is MIXED and nothing scores clearly.
 */
import { price, signedNum, signedPct } from '../../../research/offline/snapshot-text.js';
import type { MacroRegime } from '../../../research/offline/regime.js';
import { clamp, type Features } from '../features.js';
import {
  type PersonaSpec,
  type Scored,
  type Selection,
  closeVsLevel,
  confirmIndicator,
  macdIndicator,
  stopLevel,
  stopText,
  topOrFlat,
  priceTrigger,
} from '../persona-spec.js';

type Dimension = 'risk' | 'rates_falling' | 'usd' | 'inflation' | 'growth';
type Exposure = Partial<Record<Dimension, number>>;

/**
 * Typical sensitivity of each asset to each regime dimension (+ = benefits when the dimension is up;
 * rates_falling is up when yields fall). Stylized textbook betas, not estimates.
 */
const EXPOSURE: Record<string, Exposure> = {
  SPY: { risk: 1, rates_falling: 0.25, growth: 0.5 },
  QQQ: { risk: 1, rates_falling: 0.5, inflation: -0.25, growth: 0.5 },
  IWM: { risk: 1, rates_falling: 0.25, growth: 0.75 },
  TLT: { risk: -0.5, rates_falling: 1.25, inflation: -0.5, growth: -0.5 },
  IEF: { risk: -0.25, rates_falling: 1, inflation: -0.25, growth: -0.25 },
  HYG: { risk: 0.75, rates_falling: 0.25, growth: 0.25 },
  LQD: { risk: 0.25, rates_falling: 0.75 },
  UUP: { risk: -0.25, usd: 1 },
  GLD: { risk: -0.25, rates_falling: 0.25, usd: -0.5, inflation: 0.5 },
  USO: { usd: -0.25, inflation: 0.75, growth: 0.5 },
};

/** For tickers outside the ten, fall back on their category. */
const CATEGORY_EXPOSURE: Record<string, Exposure> = {
  risk_on_equities: EXPOSURE.SPY as Exposure,
  duration: EXPOSURE.IEF as Exposure,
  credit: EXPOSURE.HYG as Exposure,
  usd: EXPOSURE.UUP as Exposure,
  gold: EXPOSURE.GLD as Exposure,
  oil: EXPOSURE.USO as Exposure,
};

const DIMENSIONS: readonly Dimension[] = ['risk', 'rates_falling', 'usd', 'inflation', 'growth'];

/** The regime as ±1/0 per dimension, with the label used in reasons. */
function regimeVector(r: MacroRegime): Record<Dimension, { value: number; label: string }> {
  const impulse = (x: string, up: string, down: string): number => (x === up ? 1 : x === down ? -1 : 0);
  return {
    risk: { value: r.risk_mode === 'RISK_ON' ? 1 : r.risk_mode === 'RISK_OFF' ? -1 : 0, label: r.risk_mode },
    rates_falling: { value: impulse(r.rates_impulse, 'FALLING', 'RISING'), label: `rates ${r.rates_impulse}` },
    usd: { value: impulse(r.usd_impulse, 'RISING', 'FALLING'), label: `USD ${r.usd_impulse}` },
    inflation: { value: impulse(r.inflation_impulse, 'RISING', 'FALLING'), label: `inflation ${r.inflation_impulse}` },
    growth: { value: impulse(r.growth_impulse, 'RISING', 'FALLING'), label: `growth ${r.growth_impulse}` },
  };
}

function score(f: Features, regime: MacroRegime): { score: number; reason: string } {
  const exposure = EXPOSURE[f.ticker] ?? CATEGORY_EXPOSURE[f.asset.category] ?? {};
  const vector = regimeVector(regime);
  const parts: string[] = [];
  let raw = 0;
  for (const d of DIMENSIONS) {
    const contribution = (exposure[d] ?? 0) * vector[d].value;
    if (contribution !== 0) parts.push(`${vector[d].label} ${signedNum(contribution)}`);
    raw += contribution;
  }
  // Price confirmation: a regime call the tape disagrees with deserves less weight.
  const confirm = 0.3 * clamp(f.m1z / 2, -1, 1);
  raw += confirm;
  const s = Math.tanh(raw / 2);
  const drivers = parts.length > 0 ? parts.join(', ') : 'no regime exposure';
  return {
    score: s,
    reason: `macro score ${signedNum(s)}: ${drivers}; price check 1m ${signedPct(f.m1)} (z ${signedNum(f.m1z, 1)}) ${signedNum(confirm)}`,
  };
}

/** In a MIXED regime the persona wants a clearer score before it takes risk. */
const MIXED_REGIME_MIN_SCORE = 0.3;

function select(ranked: readonly Scored[], regime: MacroRegime): Selection {
  const top = ranked[0];
  const bottom = ranked[ranked.length - 1];
  if (!top || !bottom) throw new Error('cannot select from an empty ranking');
  if (bottom.score <= -0.5 && -bottom.score > top.score) {
    return {
      ticker: bottom.ticker,
      direction: 'SHORT',
      why: `The ${regime.risk_mode} regime is most against ${bottom.ticker} (score ${bottom.score.toFixed(2)}), more than it favours ${top.ticker} (${top.score.toFixed(2)}).`,
    };
  }
  if (regime.risk_mode === 'MIXED' && top.score < MIXED_REGIME_MIN_SCORE) {
    return {
      ticker: top.ticker,
      direction: 'FLAT',
      why: `Regime is MIXED and the best fit ${top.ticker} scores only ${top.score.toFixed(2)} (< ${MIXED_REGIME_MIN_SCORE.toFixed(2)}): stay in cash.`,
    };
  }
  const pick = topOrFlat(ranked, 'regime-fit');
  if (pick.direction !== 'LONG') return pick;
  return {
    ...pick,
    why: `${top.ticker} fits the regime best (${regime.risk_mode}, rates ${regime.rates_impulse}, USD ${regime.usd_impulse}, growth ${regime.growth_impulse}) with score ${top.score.toFixed(2)}.`,
  };
}

export const macroRegime: PersonaSpec = {
  name: 'macro-regime',
  description:
    "Top-down macro: maps the research regime (risk mode, rates, USD, inflation, growth impulses) onto each asset's sensitivities, confirmed by its 1m move.",
  horizon: '1W',
  score: (f, env) => score(f, env.regime),
  select: (ranked, env) => select(ranked, env.regime),
  trigger(f, direction) {
    return priceTrigger(f, direction, stopLevel(f, direction, ['SMA20', 'SMA50'], 2));
  },
  invalidation(f, direction, env) {
    const stop = stopLevel(f, direction, ['SMA20', 'SMA50'], 2);
    const spySma50 = env.features.get('SPY')?.asset.sma_50 ?? null;
    const mode = env.regime.risk_mode;
    const regimeCheck =
      spySma50 === null || mode === 'MIXED' || f.ticker === 'SPY'
        ? ''
        : `, or SPY closes ${mode === 'RISK_ON' ? 'below' : 'above'} its SMA50 at ${price(spySma50)} (the ${mode} read fails)`;
    return `Exit if ${stopText(f, direction, stop)}${regimeCheck}.`;
  },
  indicators(f, direction, env) {
    const stop = stopLevel(f, direction, ['SMA20', 'SMA50'], 2);
    const out = [closeVsLevel(f, direction, stop), macdIndicator(f, direction)];
    const spyCheck =
      env.regime.risk_mode !== 'MIXED'
        ? confirmIndicator(env.features.get('SPY'), 'sma_50', env.regime.risk_mode === 'RISK_ON', `${env.regime.risk_mode} read`)
        : null;
    if (spyCheck && f.ticker !== 'SPY') out.push(spyCheck);
    const tlt = env.features.get('TLT');
    if (tlt && f.ticker !== 'TLT' && env.regime.rates_impulse !== 'STABLE' && env.regime.rates_impulse !== 'MIXED') {
      const falling = env.regime.rates_impulse === 'FALLING';
      out.push({
        name: 'TLT 1w return (rates impulse)',
        expected_signal: `${falling ? 'positive' : 'negative'}: yields keep ${falling ? 'falling' : 'rising'} (1m ${signedPct(tlt.m1)})`,
        flip_condition: `TLT 1w return ${falling ? 'below -1.0%' : 'above +1.0%'}`,
      });
    }
    return out;
  },
};
