/**
 * The engine's verdict on an owner's machine-checkable invalidation trigger at a checkpoint: the
 * agent's word is recorded, but `invalidation_fired` reports this.
 */
import type { TriggerVerdict } from '../ports/agents.js';
import { describeTrigger, type InvalidationTrigger } from '../schemas/index.js';
import { measureAt, type Instant } from './indicator-set.js';
import type { MarketView } from './market-view.js';

export async function evaluateTrigger(
  view: MarketView,
  trigger: InvalidationTrigger,
  at: Instant,
  position: { ticker: string; qty: number; avg_entry_price: number },
): Promise<TriggerVerdict> {
  const observed = await measureAt(view, { ticker: trigger.ticker, measure: trigger.measure }, at, position);
  const fired = observed !== null && (trigger.op === 'below' ? observed < trigger.value : observed > trigger.value);
  const shown = observed === null ? 'cannot be computed' : `is ${formatMeasure(trigger.measure, observed)}`;
  return {
    trigger,
    observed,
    fired,
    text: `${describeTrigger(trigger)}: ${trigger.ticker} ${trigger.measure} ${shown}, ${fired ? 'FIRED' : 'not fired'}`,
  };
}

function formatMeasure(measure: InvalidationTrigger['measure'], x: number): string {
  if (measure === 'price') return x.toFixed(2);
  if (measure === 'return_since_entry' || measure === 'return_1w' || measure === 'realized_vol_20d') return `${(x * 100).toFixed(2)}%`;
  return String(Number(x.toPrecision(6)));
}
