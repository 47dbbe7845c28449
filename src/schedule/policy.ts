/**
 * The catch-up policy (config/schedule.yaml catch_up): whether a slot whose time has passed is still
 * run, or skipped with the reason. A slot is on time within a minute of its due time.
 *   weekly      until_open: until the fill day's 09:30 open, the auction its orders are meant for.
 *   checkpoint  until_next: until the next checkpoint (or weekly run) is due — a stale check is noise.
 *   postmortem  always: measuring a week is never too late.
 * `always` runs any missed slot within the look-back window; `never` only on time.
 */
import type { AppConfig } from '../config/app-config.js';
import type { ScheduleSlot } from './plan.js';

export const ON_TIME_MS = 60_000;

export type Verdict = { run: true; late: boolean } | { run: false; reason: string };

export function catchUp(slot: ScheduleSlot, now: Date, policy: AppConfig['schedule']['catch_up']): Verdict {
  const lateMs = now.getTime() - slot.at.getTime();
  if (lateMs <= ON_TIME_MS) return { run: true, late: false };
  const rule = policy[slot.kind];
  const minutes = Math.round(lateMs / 60_000);
  if (rule === 'never') return { run: false, reason: `missed by ${minutes} min (catch_up.${slot.kind}: never)` };
  if (rule === 'always') return { run: true, late: true };
  if (slot.usefulUntil && now >= slot.usefulUntil)
    return {
      run: false,
      reason:
        slot.kind === 'weekly'
          ? `missed: the ${slot.week.fill_date} open it was for has passed (catch_up.weekly: until_open)`
          : `missed: the next checkpoint is due (catch_up.checkpoint: until_next)`,
    };
  return { run: true, late: true };
}
