/**
 * How an offline persona (and the offline chairman) updates its conviction at a checkpoint, from its
 * own rules and the engine's trigger verdict only (no research mid-week):
 *   1. the trigger fired → the persona's move on a broken thesis: EXIT, or FLIP for the contrarian
 *      (a fade that failed becomes a ride of the move, at conviction 1);
 *   2. the position is losing more than `reduceAt` daily sigmas (20-day realized vol / √252) since
 *      entry → REDUCE a full-conviction position to 1; a conviction-1 position losing twice that → EXIT;
 *   3. otherwise STAY.
 * Reasons cite the numbers they used.
 */
import type { CheckpointContext } from '../../ports/agents.js';
import { CheckpointUpdate } from '../../schemas/index.js';
import type { PersonaName } from './persona-spec.js';

export interface CheckpointStyle {
  onTrigger: 'EXIT' | 'FLIP';
  /** Daily sigmas of loss since entry that make the persona cut a full-conviction position. */
  reduceAt: number;
}

export const CHECKPOINT_STYLES: Readonly<Record<PersonaName | 'peer-weighted', CheckpointStyle>> = {
  trend: { onTrigger: 'EXIT', reduceAt: 1.5 },
  'mean-reversion': { onTrigger: 'EXIT', reduceAt: 2.5 },
  'macro-regime': { onTrigger: 'EXIT', reduceAt: 2 },
  'defensive-carry': { onTrigger: 'EXIT', reduceAt: 1 },
  contrarian: { onTrigger: 'FLIP', reduceAt: 2.5 },
  'peer-weighted': { onTrigger: 'EXIT', reduceAt: 2 },
};

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;

export function decideCheckpoint(style: CheckpointStyle, ctx: CheckpointContext): CheckpointUpdate {
  const p = ctx.position;
  const before = ctx.conviction_before;
  const where = `${p.ticker} ${p.price.toFixed(2)} (${p.price_source}), ${pct(p.return_since_entry)} since entry at ${p.avg_entry_price.toFixed(2)}`;
  const vol = ctx.indicators.find((i) => i.name === `${p.ticker} 20d realized vol`)?.value ?? null;
  const sigma = vol === null ? null : vol / Math.sqrt(252);
  const losing = sigma === null || sigma <= 0 ? 0 : Math.max(0, -p.return_since_entry / sigma);
  const sigmaText = sigma === null ? 'daily sigma unknown' : `daily sigma ${pct(sigma).slice(1)}, loss ${losing.toFixed(1)} sigmas`;

  let action: CheckpointUpdate['action'] = 'STAY';
  let after = before;
  let reason: string;
  if (ctx.trigger?.fired) {
    action = style.onTrigger;
    after = action === 'EXIT' ? 0 : -Math.sign(before);
    reason = `${where}. The invalidation trigger fired (${ctx.trigger.text}): ${action === 'EXIT' ? 'the thesis is broken, exit' : 'the move the trade faded is continuing, flip to ride it at conviction ' + after}.`;
  } else if (Math.abs(before) === 2 && losing >= style.reduceAt) {
    action = 'REDUCE';
    after = Math.sign(before);
    reason = `${where}; ${sigmaText} (threshold ${style.reduceAt}). The trigger has not fired, but the loss is beyond normal noise: halve the position, conviction ${after}.`;
  } else if (Math.abs(before) === 1 && losing >= 2 * style.reduceAt) {
    action = 'EXIT';
    after = 0;
    reason = `${where}; ${sigmaText} (exit threshold ${2 * style.reduceAt} for a reduced position). The trigger has not fired, but the reduced position keeps losing: exit.`;
  } else {
    const trigger = ctx.trigger ? `the trigger has not fired (${ctx.trigger.text})` : 'no machine-checkable trigger';
    reason = `${where}; ${sigmaText}; ${trigger}. The thesis holds: stay at conviction ${before}.`;
  }
  return CheckpointUpdate.parse({
    week_id: ctx.week_id,
    checkpoint_et: ctx.checkpoint_et,
    account_id: ctx.account_id,
    conviction_before: before,
    conviction_after: after,
    action,
    reason,
    invalidation_fired: ctx.trigger?.fired ? ctx.trigger.text : null,
    indicators_snapshot: ctx.indicators.map((i) => ({ ...i })),
  });
}
