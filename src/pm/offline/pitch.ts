/**
 * Turns a persona's evaluation into a pm_pitch_with_ranking. The texts never name the persona or
 * model: reviewers see the pitch anonymized, and a style label in the text would de-anonymize it.
 */
import type { WeekContext } from '../../ports/agents.js';
import { levelAbove, pct, price, signedNum, signedPct } from '../../research/offline/snapshot-text.js';
import { PmPitch, type InvalidationTrigger, type ResearchPack } from '../../schemas/index.js';
import { evaluate, type Evaluation } from './evaluate.js';
import type { Features } from './features.js';
import { type KeyIndicator, type PersonaSpec, closeVsLevel, priceTrigger, stopLevel } from './persona-spec.js';

/** The DESIGN's daily checkpoints (America/New_York). */
export const CHECKPOINTS_ET = ['09:00', '12:00', '14:00', '15:50'];
const MAX_INDICATORS = 8;

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function riskBullet(f: Features, position: boolean): string {
  const a = f.asset;
  const atr = a.atr_14 === null ? 'ATR n/a' : `ATR ${price(a.atr_14)} (${pct(a.atr_pct, 2)} of price)`;
  const weekly = f.vol * Math.sqrt(5 / 252);
  return position
    ? `Risk: ${atr}, 20d vol ${pct(f.vol)}, so a one-sigma week is about ${pct(weekly)} (${price(f.close * weekly)} per share).`
    : `Cash: no exposure; ${f.ticker} would carry ${atr} and a one-sigma week of ${pct(weekly)}.`;
}

/** The condition that proves FLAT wrong: a close through the nearest snapshot level above. */
function defaultFlatInvalidation(f: Features): string {
  const above = levelAbove(f.asset) ?? stopLevel(f, 'SHORT', [], 1);
  return `Cash is wrong if ${f.ticker} closes above ${above.name} at ${price(above.value)} (${signedPct(above.value / f.close - 1)} from the ${price(f.close)} close).`;
}

function indicatorsFor(spec: PersonaSpec, e: Evaluation, f: Features): KeyIndicator[] {
  const direction = e.selection.direction;
  const list =
    direction === 'FLAT' && !spec.flatInvalidation
      ? [closeVsLevel(f, 'SHORT', levelAbove(f.asset) ?? stopLevel(f, 'SHORT', [], 1))]
      : spec.indicators(f, direction, e.env);
  const seen = new Set<string>();
  return list.filter((k) => (seen.has(k.name) ? false : (seen.add(k.name), true))).slice(0, MAX_INDICATORS);
}

export function pitchFromEvaluation(spec: PersonaSpec, e: Evaluation, ctx: WeekContext, research: ResearchPack, model: string): PmPitch {
  const { selected, selection, conviction } = e;
  const n = e.ranked.length;
  const spy = e.ranked.find((r) => r.ticker === 'SPY');
  const f = selected.f;
  const position = selection.direction !== 'FLAT';
  const r = research.macro_regime;
  const thesis = [
    selection.why,
    `${capitalize(selected.reason)}.`,
    `Ranked #${selected.rank} of ${n}, bucket ${selected.bucket} vs SPY` +
      (spy ? ` (SPY score ${signedNum(spy.score)}, #${spy.rank}).` : '.'),
    `Research regime: ${r.risk_mode}; rates ${r.rates_impulse}, USD ${r.usd_impulse}, inflation ${r.inflation_impulse}, growth ${r.growth_impulse}.`,
  ];
  if (f) thesis.push(riskBullet(f, position));

  let invalidation: string;
  let trigger: InvalidationTrigger | null = null;
  let indicators: KeyIndicator[];
  if (!f) {
    invalidation = `No snapshot data for ${selected.ticker} through ${ctx.snapshot.data_through}: stay FLAT until bars are available.`;
    indicators = [
      {
        name: `${selected.ticker} data availability`,
        expected_signal: 'bars appear in the next snapshot',
        flip_condition: 'a full 20-session history is available',
      },
    ];
  } else {
    invalidation = position
      ? spec.invalidation(f, selection.direction, e.env)
      : (spec.flatInvalidation?.(f, e.env) ?? defaultFlatInvalidation(f));
    // FLAT: cash is proven wrong by a breakout through the nearest level above (as the default text says).
    trigger = position
      ? spec.trigger(f, selection.direction, e.env)
      : priceTrigger(f, 'SHORT', levelAbove(f.asset) ?? stopLevel(f, 'SHORT', [], 1));
    indicators = indicatorsFor(spec, e, f);
  }

  const notes = position
    ? `Market order at the ${ctx.week_id} open; |conviction| ${Math.abs(conviction)} sized by the risk stage` +
      (selection.direction === 'SHORT' ? '; whole shares only (no fractional shorts).' : '.')
    : 'No order: hold cash this week and re-assess at the next weekly run.';

  const pitch: PmPitch = {
    week_id: ctx.week_id,
    asof_et: ctx.asof_et,
    pm_model: model,
    instrument_ranking: e.ranked.map((row) => ({
      ticker: row.ticker,
      rank: row.rank,
      expected_outperformance_bucket_vs_spy: row.bucket,
      reason: row.reason,
    })),
    selected_trade: {
      ticker: selected.ticker,
      direction: selection.direction,
      horizon: spec.horizon,
      conviction,
      thesis_bullets: thesis,
      invalidation_rule_this_week: invalidation,
      invalidation_trigger: trigger,
      entry_plan: { order_type: 'MARKET', timing: 'MOO', notes },
    },
    monitoring_plan: { checkpoints_et: [...CHECKPOINTS_ET], key_indicators: indicators },
  };
  return PmPitch.parse(pitch);
}

/** A persona's pitch for the week: its scores over the universe under the research regime. */
export function buildPitch(spec: PersonaSpec, ctx: WeekContext, research: ResearchPack, model: string): PmPitch {
  const tickers = ctx.universe.map((a) => a.ticker);
  return pitchFromEvaluation(spec, evaluate(spec, ctx.snapshot, research.macro_regime, tickers), ctx, research, model);
}
