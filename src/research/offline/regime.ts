/**
 * The macro regime read from price action alone (no news, no LLM), so the offline researcher and the
 * offline PMs agree on it and anyone can recompute it from the snapshot.
 *
 * Each impulse uses a dead band so that noise reads as STABLE; MIXED means the two instruments that
 * inform an impulse point in opposite directions.
 */
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';
import type { ResearchPack } from '../../schemas/index.js';
import { assetsByTicker, price, signedPct } from './snapshot-text.js';

export type MacroRegime = ResearchPack['macro_regime'];
type Impulse = MacroRegime['rates_impulse'];

/** Dead bands on 1-month returns: smaller than these is noise for that instrument's volatility. */
const BAND = {
  tlt: 0.01, // long duration moves ~2x the belly
  ief: 0.005,
  uup: 0.01,
  gld: 0.02,
  uso: 0.05, // oil's monthly noise is large
  creditSpread: 0.005, // HYG minus LQD 1m return
  smallVsLarge: 0.01, // IWM minus SPY 1m return
  equities: 0.01,
} as const;

/** Everything the regime was decided from, so narratives can cite it. */
export interface RegimeReading {
  regime: MacroRegime;
  /** SPY/QQQ/IWM: +1 per average the close is above, -1 per average below (SMA50, SMA200): −6..+6. */
  equity_trend_score: number;
  /** HYG above its SMA50 (+1/−1) plus HYG-vs-LQD 1m spread outside the dead band (+1/−1). */
  credit_score: number;
}

/** +1 above the band, −1 below minus the band, 0 inside (or unknown). */
function banded(x: number | null | undefined, band: number): -1 | 0 | 1 {
  if (x === null || x === undefined || !Number.isFinite(x)) return 0;
  if (x > band) return 1;
  if (x < -band) return -1;
  return 0;
}

/** Combine two votes: agreement (or one silent) gives the direction, opposition gives MIXED. */
function combine(a: -1 | 0 | 1, b: -1 | 0 | 1, up: Impulse, down: Impulse): Impulse {
  if (a !== 0 && b !== 0 && a !== b) return 'MIXED';
  const s = a + b;
  if (s > 0) return up;
  if (s < 0) return down;
  return 'STABLE';
}

function aboveBelow(a: AssetSnapshot | undefined, sma: number | null | undefined): number {
  if (!a || sma === null || sma === undefined) return 0;
  return a.last_close > sma ? 1 : -1;
}

/** A 1m move whose last week has already given back more than half of it is fading, not an impulse. */
function unlessFading(a: AssetSnapshot | undefined, band: number): -1 | 0 | 1 {
  if (!a) return 0;
  const m1 = banded(a.returns.m1, band);
  const w1 = a.returns.w1;
  const m1v = a.returns.m1;
  if (m1 !== 0 && w1 !== null && m1v !== null && Math.sign(w1) === -m1 && Math.abs(w1) > Math.abs(m1v) / 2) return 0;
  return m1;
}

function signedInt(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function m1(a: AssetSnapshot | undefined): number | null {
  return a?.returns.m1 ?? null;
}

export function readRegime(snapshot: MarketSnapshot): RegimeReading {
  const by = assetsByTicker(snapshot);
  const spy = by.get('SPY');
  const qqq = by.get('QQQ');
  const iwm = by.get('IWM');
  const tlt = by.get('TLT');
  const ief = by.get('IEF');
  const hyg = by.get('HYG');
  const lqd = by.get('LQD');
  const uup = by.get('UUP');
  const gld = by.get('GLD');
  const uso = by.get('USO');

  // Risk: equity trend breadth vs the 50/200-day averages, confirmed (or not) by credit.
  const equities = [spy, qqq, iwm];
  const equity_trend_score = equities.reduce((s, a) => s + aboveBelow(a, a?.sma_50) + aboveBelow(a, a?.sma_200), 0);
  const hygM1 = m1(hyg);
  const lqdM1 = m1(lqd);
  const spread = hygM1 !== null && lqdM1 !== null ? hygM1 - lqdM1 : null;
  const credit_score = aboveBelow(hyg, hyg?.sma_50) + banded(spread, BAND.creditSpread);
  let risk_mode: MacroRegime['risk_mode'] = 'MIXED';
  if (equity_trend_score >= 4 && credit_score >= 0) risk_mode = 'RISK_ON';
  else if (equity_trend_score <= -4 || (equity_trend_score <= -2 && credit_score <= 0)) risk_mode = 'RISK_OFF';

  // Rates: bond prices up means yields down, so a rising TLT/IEF is a FALLING rates impulse.
  const rates_impulse = combine(banded(m1(tlt), BAND.tlt), banded(m1(ief), BAND.ief), 'FALLING', 'RISING');
  const usd_impulse = combine(banded(m1(uup), BAND.uup), 0, 'RISING', 'FALLING');
  const inflation_impulse = combine(unlessFading(gld, BAND.gld), unlessFading(uso, BAND.uso), 'RISING', 'FALLING');

  // Growth: small caps leading large caps, and equities rising overall.
  const iwmM1 = m1(iwm);
  const spyM1 = m1(spy);
  const smallVsLarge = iwmM1 !== null && spyM1 !== null ? iwmM1 - spyM1 : null;
  const eqM1 = equities.map(m1).filter((x): x is number => x !== null);
  const eqAvg = eqM1.length > 0 ? eqM1.reduce((s, x) => s + x, 0) / eqM1.length : null;
  const growth_impulse = combine(banded(smallVsLarge, BAND.smallVsLarge), banded(eqAvg, BAND.equities), 'RISING', 'FALLING');

  const summary = [
    `${risk_mode}: equity trend score ${signedInt(equity_trend_score)} of ±6 ` +
      `(SPY ${price(spy?.last_close)} vs SMA50 ${price(spy?.sma_50)} / SMA200 ${price(spy?.sma_200)}), ` +
      `credit score ${signedInt(credit_score)} (HYG 1m ${signedPct(hygM1)} vs LQD ${signedPct(lqdM1)})`,
    `rates ${rates_impulse} (TLT 1m ${signedPct(m1(tlt))}, IEF 1m ${signedPct(m1(ief))}; bond prices up = yields down)`,
    `USD ${usd_impulse} (UUP 1m ${signedPct(m1(uup))})`,
    `inflation ${inflation_impulse} (GLD 1m ${signedPct(m1(gld))}, USO 1m ${signedPct(m1(uso))} / 1w ${signedPct(uso?.returns.w1 ?? null)})`,
    `growth ${growth_impulse} (IWM-SPY 1m ${signedPct(smallVsLarge)}, equity 1m average ${signedPct(eqAvg)})`,
  ].join('; ');

  return {
    regime: { risk_mode, rates_impulse, usd_impulse, inflation_impulse, growth_impulse, summary },
    equity_trend_score,
    credit_score,
  };
}

/** The macro regime of a snapshot, exactly as the offline researcher publishes it. */
export function deriveRegime(snapshot: MarketSnapshot): MacroRegime {
  return readRegime(snapshot).regime;
}
