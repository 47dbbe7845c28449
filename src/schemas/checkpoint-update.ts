import { z } from 'zod';
import { AsOfEt, Conviction, WeekId } from './common.js';

export const CheckpointAction = z.enum(['STAY', 'EXIT', 'FLIP', 'REDUCE']);
export type CheckpointAction = z.infer<typeof CheckpointAction>;

export const CheckpointUpdate = z.object({
  week_id: WeekId,
  checkpoint_et: AsOfEt,
  account_id: z.number().int().min(1).max(6),
  conviction_before: Conviction,
  conviction_after: Conviction,
  action: CheckpointAction,
  reason: z.string().min(1),
  invalidation_fired: z.string().nullable(),
  indicators_snapshot: z.array(z.object({ name: z.string().min(1), value: z.number(), previous: z.number().nullable() })),
});
export type CheckpointUpdate = z.infer<typeof CheckpointUpdate>;
