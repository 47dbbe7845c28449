/**
 * What makes a checkpoint answer consistent, for every owner (LLM answers are re-asked with these
 * problems; an offline persona that broke them would be a bug):
 *   STAY:   conviction_after = conviction_before
 *   REDUCE: same sign, |after| ≤ |before| (a ±1 position stays ±1, at a smaller size)
 *   EXIT:   conviction_after = 0
 *   FLIP:   the opposite sign, not 0
 * and when the engine says the trigger fired, the action is EXIT or FLIP (the prompt's hard rule).
 */
import type { CheckpointContext } from '../ports/agents.js';
import type { CheckpointUpdate } from '../schemas/index.js';

export function checkpointUpdateProblems(update: CheckpointUpdate, ctx: CheckpointContext): string[] {
  const problems: string[] = [];
  if (update.week_id !== ctx.week_id) problems.push(`week_id: expected ${ctx.week_id}, got ${update.week_id}`);
  if (update.account_id !== ctx.account_id) problems.push(`account_id: expected ${ctx.account_id}, got ${update.account_id}`);
  if (update.conviction_before !== ctx.conviction_before)
    problems.push(`conviction_before: expected ${ctx.conviction_before} (copy it from the message), got ${update.conviction_before}`);
  const before = ctx.conviction_before;
  const after = update.conviction_after;
  switch (update.action) {
    case 'STAY':
      if (after !== before) problems.push(`conviction_after: STAY keeps the conviction at ${before}, got ${after}`);
      break;
    case 'REDUCE':
      if (Math.sign(after) !== Math.sign(before) || Math.abs(after) > Math.abs(before))
        problems.push(`conviction_after: REDUCE keeps the sign of ${before} with a magnitude no larger, got ${after}`);
      break;
    case 'EXIT':
      if (after !== 0) problems.push(`conviction_after: EXIT means 0, got ${after}`);
      break;
    case 'FLIP':
      if (after === 0 || Math.sign(after) === Math.sign(before))
        problems.push(`conviction_after: FLIP takes the opposite sign of ${before}, got ${after}`);
      break;
  }
  if (ctx.trigger?.fired && update.action !== 'EXIT' && update.action !== 'FLIP')
    problems.push(`action: the invalidation trigger fired (${ctx.trigger.text}): EXIT or FLIP, not ${update.action}`);
  return problems;
}
