/**
 * The 3–5 top narratives of the week, each built from the regime reading and cited snapshot numbers.
 */
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';
import type { RegimeReading } from './regime.js';
import { assetsByTicker, byText, pct, price, rsi, signedPct } from './snapshot-text.js';

function vsSma(a: AssetSnapshot, sma: number | null, label: string): string {
  if (sma === null) return `${label} n/a`;
  return `${signedPct(a.last_close / sma - 1)} vs ${label} ${price(sma)}`;
}

export function topNarratives(snapshot: MarketSnapshot, reading: RegimeReading): string[] {
  const by = assetsByTicker(snapshot);
  const { regime } = reading;
  const out: string[] = [];
  const spy = by.get('SPY');
  const qqq = by.get('QQQ');
  const iwm = by.get('IWM');
  const hyg = by.get('HYG');
  const lqd = by.get('LQD');
  if (spy && qqq && iwm) {
    out.push(
      `Risk mode ${regime.risk_mode}: SPY ${price(spy.last_close)} (${vsSma(spy, spy.sma_200, 'SMA200')}), QQQ 1m ${signedPct(qqq.returns.m1)}, ` +
        `IWM 1m ${signedPct(iwm.returns.m1)} (${vsSma(iwm, iwm.sma_200, 'SMA200')})` +
        (hyg && lqd
          ? `; credit: HYG 1m ${signedPct(hyg.returns.m1)} vs LQD ${signedPct(lqd.returns.m1)}, HYG ${pct(hyg.pct_from_52w_high)} below its 52w high.`
          : '.'),
    );
  }
  const tlt = by.get('TLT');
  const ief = by.get('IEF');
  if (tlt && ief) {
    out.push(
      `Rates impulse ${regime.rates_impulse}: TLT 1m ${signedPct(tlt.returns.m1)} and IEF 1m ${signedPct(ief.returns.m1)} (bond prices up = yields down); ` +
        `TLT sits ${pct(tlt.pct_from_52w_high)} below its 52w high, ${vsSma(tlt, tlt.sma_200, 'SMA200')}.`,
    );
  }
  const uup = by.get('UUP');
  const gld = by.get('GLD');
  if (uup && gld) {
    out.push(
      `USD impulse ${regime.usd_impulse}: UUP 1m ${signedPct(uup.returns.m1)}, 3m ${signedPct(uup.returns.m3)}, ${pct(uup.pct_from_52w_low)} above its 52w low; ` +
        `GLD 1m ${signedPct(gld.returns.m1)}, 3m ${signedPct(gld.returns.m3)}, RSI ${rsi(gld.rsi_14)}.`,
    );
  }
  const uso = by.get('USO');
  if (uso) {
    out.push(
      `Inflation impulse ${regime.inflation_impulse}: USO 1m ${signedPct(uso.returns.m1)} but 1w ${signedPct(uso.returns.w1)}, ` +
        `20d realized vol ${pct(uso.realized_vol_20d)}, ATR ${pct(uso.atr_pct, 2)} of price.`,
    );
  }
  const withRsi = snapshot.assets.filter((a) => a.rsi_14 !== null);
  const withM1 = snapshot.assets.filter((a) => a.returns.m1 !== null);
  if (withRsi.length > 0 && withM1.length > 0) {
    const byRsi = [...withRsi].sort((a, b) => (b.rsi_14 ?? 0) - (a.rsi_14 ?? 0) || byText(a.ticker, b.ticker));
    const byMove = [...withM1].sort((a, b) => Math.abs(b.returns.m1 ?? 0) - Math.abs(a.returns.m1 ?? 0) || byText(a.ticker, b.ticker));
    const hi = byRsi[0] as AssetSnapshot;
    const lo = byRsi[byRsi.length - 1] as AssetSnapshot;
    const mover = byMove[0] as AssetSnapshot;
    const stretched = withRsi.filter((a) => (a.rsi_14 ?? 50) >= 70 || (a.rsi_14 ?? 50) <= 30).map((a) => `${a.ticker} ${rsi(a.rsi_14)}`);
    out.push(
      `Stretch check: highest RSI ${hi.ticker} ${rsi(hi.rsi_14)}, lowest ${lo.ticker} ${rsi(lo.rsi_14)}; ` +
        (stretched.length > 0 ? `outside 30-70: ${stretched.join(', ')}; ` : 'no RSI outside 30-70; ') +
        `largest 1m move ${mover.ticker} ${signedPct(mover.returns.m1)}.`,
    );
  }
  if (out.length === 0) out.push(`Macro regime: ${regime.summary}.`);
  return out.slice(0, 5);
}
