import { z } from 'zod';
import { Ticker } from './common.js';

/**
 * What a machine-checkable invalidation trigger measures (evaluated by src/checkpoint/trigger.ts at
 * every checkpoint, on what is knowable at the checkpoint's instant):
 * - price: the instrument's last printed price (on daily bars: the previous close before the open,
 *   the day's open after it);
 * - return_since_entry: the position's return since its average entry price, signed for the
 *   position (a SHORT gains when the price falls), as a fraction (−0.02 = −2%);
 * - rsi_14, macd_histogram, realized_vol_20d (annualized fraction), return_1w (fraction over five
 *   sessions): daily indicators of the instrument with the last printed price as today's provisional
 *   close once the session has opened.
 */
export const TriggerMeasure = z.enum(['price', 'return_since_entry', 'rsi_14', 'macd_histogram', 'realized_vol_20d', 'return_1w']);
export type TriggerMeasure = z.infer<typeof TriggerMeasure>;

/** 'below': fires when the measure is strictly below `value`; 'above': strictly above. */
export const TriggerOp = z.enum(['below', 'above']);
export type TriggerOp = z.infer<typeof TriggerOp>;

/** The machine-checkable form of `invalidation_rule_this_week`: the engine, not the agent, says whether it fired. */
export const InvalidationTrigger = z.object({
  ticker: Ticker,
  measure: TriggerMeasure,
  op: TriggerOp,
  value: z.number(),
});
export type InvalidationTrigger = z.infer<typeof InvalidationTrigger>;

/** "SPY price below 596.95", "return_since_entry below -0.03". */
export function describeTrigger(t: InvalidationTrigger): string {
  const value = t.measure === 'price' ? t.value.toFixed(2) : String(t.value);
  return `${t.ticker} ${t.measure} ${t.op} ${value}`;
}
