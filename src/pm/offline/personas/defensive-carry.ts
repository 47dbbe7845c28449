/**
 * Defensive carry: collect income where volatility is low and the asset diversifies equity risk,
 * but only while its trend holds. When the equity market itself is stressed (SPY 20d vol high AND
 * below its SMA50) the persona goes to cash: carry is what gets hurt first in a risk-off break.
 */
import { pct, price, signedNum } from '../../../research/offline/snapshot-text.js';
import { clamp, vote, type Features } from '../features.js';
import {
  type KeyIndicator,
  type PersonaSpec,
  type Scored,
  type Selection,
  closeVsLevel,
  confirmIndicator,
  stopLevel,
  stopText,
  topOrFlat,
  priceTrigger,
} from '../persona-spec.js';

/**
 * Qualitative carry tiers (income the holder earns, not a yield estimate): high-yield credit earns
 * the most, investment grade and Treasuries less, the dollar fund a short-rate differential, equity
 * indices little, gold nothing (and costs a fee), oil futures carry roll risk.
 */
const CARRY: Record<string, { tier: string; value: number }> = {
  HYG: { tier: 'high (HY coupons)', value: 1 },
  LQD: { tier: 'medium-high (IG coupons)', value: 0.75 },
  TLT: { tier: 'medium (Treasury coupons)', value: 0.5 },
  IEF: { tier: 'medium (Treasury coupons)', value: 0.5 },
  UUP: { tier: 'low (USD short-rate differential)', value: 0.25 },
  SPY: { tier: 'low (dividends)', value: 0.1 },
  IWM: { tier: 'low (dividends)', value: 0.1 },
  QQQ: { tier: 'minimal (dividends)', value: 0 },
  GLD: { tier: 'none (no income, fee drag)', value: -0.25 },
  USO: { tier: 'negative risk (futures roll)', value: -0.25 },
};
const CATEGORY_CARRY: Record<string, { tier: string; value: number }> = {
  credit: CARRY.HYG as { tier: string; value: number },
  duration: CARRY.IEF as { tier: string; value: number },
  usd: CARRY.UUP as { tier: string; value: number },
  risk_on_equities: CARRY.SPY as { tier: string; value: number },
  gold: CARRY.GLD as { tier: string; value: number },
  oil: CARRY.USO as { tier: string; value: number },
};

/** "High vol" for SPY: 20% annualized is roughly the long-run VIX average plus a margin. */
const SPY_STRESS_VOL = 0.2;
/** Vol at which the low-vol term is zero; calmer earns credit, wilder is penalized. */
const NEUTRAL_VOL = 0.15;

function score(f: Features): { score: number; reason: string } {
  const carry = CARRY[f.ticker] ?? CATEGORY_CARRY[f.asset.category] ?? { tier: 'unknown', value: 0 };
  const lowVol = clamp(1 - f.vol / NEUTRAL_VOL, -1, 1);
  const corr = f.asset.corr_spy_60d ?? 0;
  const s = 0.3 * carry.value + 0.3 * lowVol + 0.2 * vote(f.aboveSma50) + 0.2 * -corr;
  const trendText = f.aboveSma50 === null ? 'SMA50 n/a' : `${f.aboveSma50 ? 'above' : 'below'} SMA50 ${price(f.asset.sma_50)}`;
  return {
    score: s,
    reason: `defensive score ${signedNum(s)}: carry ${carry.tier}; 20d vol ${pct(f.vol)}; close ${price(f.close)} ${trendText}; 60d corr to SPY ${signedNum(f.asset.corr_spy_60d)}`,
  };
}

function select(ranked: readonly Scored[], spy: Features | undefined): Selection {
  const top = ranked[0];
  if (!top) throw new Error('cannot select from an empty ranking');
  if (spy && spy.vol > SPY_STRESS_VOL && spy.aboveSma50 === false) {
    return {
      ticker: top.ticker,
      direction: 'FLAT',
      why: `Equity stress: SPY 20d vol ${pct(spy.vol)} > ${pct(SPY_STRESS_VOL, 0)} and close ${price(spy.close)} below SMA50 ${price(spy.asset.sma_50)}: carry is not paid for the risk, stay in cash.`,
    };
  }
  const pick = topOrFlat(ranked, 'carry-to-risk');
  if (pick.direction !== 'LONG' || !top.f) return pick;
  return {
    ...pick,
    why: `${top.ticker} offers the best carry-to-risk: 20d vol ${pct(top.f.vol)}, score ${top.score.toFixed(2)}, while SPY vol is ${spy ? pct(spy.vol) : 'n/a'}.`,
  };
}

export const defensiveCarry: PersonaSpec = {
  name: 'defensive-carry',
  description:
    'Defensive carry: income-earning, low-vol, low-equity-correlation assets in an uptrend; goes FLAT when SPY 20d vol > 20% and SPY is below its SMA50.',
  horizon: '1W',
  score,
  select: (ranked, env) => select(ranked, env.features.get('SPY')),
  flatInvalidation(f, env) {
    const spy = env.features.get('SPY');
    const spySma50 = spy?.asset.sma_50 ?? null;
    return spy && spySma50 !== null
      ? `Cash is wrong if SPY closes back above SMA50 at ${price(spySma50)} with 20d vol under ${pct(SPY_STRESS_VOL, 0)} (now ${pct(spy.vol)}).`
      : `Cash is wrong if ${f.ticker} closes above ${price(f.close + (f.asset.atr_14 ?? 0))}, one ATR over the ${price(f.close)} close.`;
  },
  trigger(f, direction) {
    return priceTrigger(f, direction, stopLevel(f, direction, ['SMA20', 'SMA50'], 2));
  },
  invalidation(f, direction) {
    const stop = stopLevel(f, direction, ['SMA20', 'SMA50'], 2);
    return `Exit if ${stopText(f, direction, stop)} or if SPY 20d vol rises above ${pct(SPY_STRESS_VOL, 0)}.`;
  },
  indicators(f, direction, env) {
    const spy = env.features.get('SPY');
    const out: KeyIndicator[] = [];
    if (direction !== 'FLAT') out.push(closeVsLevel(f, direction, stopLevel(f, direction, ['SMA20', 'SMA50'], 2)));
    out.push({
      name: 'SPY 20d realized vol',
      expected_signal: `stays below ${pct(SPY_STRESS_VOL, 0)} (now ${spy ? pct(spy.vol) : 'n/a'})`,
      flip_condition: `above ${pct(SPY_STRESS_VOL, 0)} with SPY below SMA50`,
    });
    const spyTrend = confirmIndicator(spy, 'sma_50', true, 'equity trend intact');
    if (spyTrend) out.push(spyTrend);
    return out;
  },
};
