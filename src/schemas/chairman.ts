import { z } from 'zod';
import { InvalidationTrigger } from './invalidation-trigger.js';
import { AsOfEt, ClockTime, Conviction, Direction, Horizon, Ticker, WeekId, convictionSignProblem } from './common.js';

export const ChairmanDecisionShape = z.object({
  week_id: WeekId,
  asof_et: AsOfEt,
  selected_trade: z.object({ ticker: Ticker, direction: Direction, horizon: Horizon }),
  conviction: Conviction,
  rationale: z.string().min(1),
  /** The council position's invalidation in machine-checkable form (null when FLAT or when it cannot be put so). */
  invalidation_trigger: InvalidationTrigger.nullable(),
  dissent_summary: z.array(z.object({ pitch_id: z.string().min(1), model: z.string().min(1), key_concern: z.string().min(1) })),
  monitoring_plan: z.object({
    checkpoints_et: z.array(ClockTime),
    invalidation_triggers: z.array(z.string().min(1)),
    key_indicators: z.array(z.string().min(1)),
  }),
});

export const ChairmanDecision = ChairmanDecisionShape.superRefine((d, ctx) => {
  const sign = convictionSignProblem(d.selected_trade.direction, d.conviction);
  if (sign) ctx.addIssue({ code: 'custom', path: ['conviction'], message: sign });
});
export type ChairmanDecision = z.infer<typeof ChairmanDecision>;
