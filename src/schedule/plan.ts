/**
 * The schedule (config/schedule.yaml, America/New_York, NYSE calendar): for every week, on its decision
 * day at the weekly time the postmortem of the week before and then the weekly pipeline; at every
 * checkpoint time of every trading day of the week, a checkpoint. A holiday decision day moves the
 * weekly run to the next trading day (as the pipeline does: weekOf); a holiday has no checkpoints; a
 * checkpoint the calendar rules out (before the decision day's open, at or after an early close)
 * is a slot that is skipped with its reason. Instants are UTC, computed from New York wall times, so
 * both DST change days are right (tests/schedule.test.ts).
 *
 * A slot's deadline is how late it may still run (the catch-up policy, policy.ts).
 */
import type { AppConfig } from '../config/app-config.js';
import { weekSlots } from '../checkpoint/schedule.js';
import { weekOf, shiftToWeekday, type WeekInfo } from '../council/week.js';
import { addDays, etToUtc, SESSION_OPEN, utcToEt } from '../market/calendar.js';

export type SlotKind = 'postmortem' | 'weekly' | 'checkpoint';

export interface ScheduleSlot {
  /** Unique in a portfolio: `weekly:<week>`, `postmortem:<week>`, `checkpoint:<date>T<HH:MM>`. */
  key: string;
  kind: SlotKind;
  /** The week it belongs to (for a postmortem: the week it measures). */
  week: WeekInfo;
  /** When it is due (UTC). */
  at: Date;
  /** New York date and time of `at`. */
  date: string;
  time: string;
  /** Why the calendar rules it out, or null. */
  skip: string | null;
  /** The end of its usefulness by kind: the fill day's open (weekly), the next checkpoint (checkpoint). */
  usefulUntil: Date | null;
}

const KIND_ORDER: Record<SlotKind, number> = { postmortem: 0, weekly: 1, checkpoint: 2 };

/** Every slot of the weeks whose decision day falls in [fromDate - 7 days, toDate], in time order. */
export function scheduleSlots(config: AppConfig, fromDate: string, toDate: string): ScheduleSlot[] {
  const day = config.schedule.weekly.day;
  const slots: ScheduleSlot[] = [];
  for (let weekId = shiftToWeekday(addDays(fromDate, -7), day, 1); weekId <= toDate; weekId = addDays(weekId, 7)) {
    const week = weekOf(weekId, config);
    const previous = weekOf(addDays(weekId, -7), config);
    const at = etToUtc(week.fill_date, config.schedule.weekly.time);
    const base = { date: week.fill_date, time: config.schedule.weekly.time, at, skip: null };
    slots.push({ ...base, key: `postmortem:${previous.week_id}`, kind: 'postmortem', week: previous, usefulUntil: null });
    slots.push({ ...base, key: `weekly:${week.week_id}`, kind: 'weekly', week, usefulUntil: etToUtc(week.fill_date, SESSION_OPEN) });
    for (const s of weekSlots(week, config))
      slots.push({
        key: `checkpoint:${s.date}T${s.time}`,
        kind: 'checkpoint',
        week,
        at: s.at,
        date: s.date,
        time: s.time,
        skip: s.skip,
        usefulUntil: null,
      });
  }
  slots.sort((a, b) => a.at.getTime() - b.at.getTime() || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
  // A checkpoint is useful until the next checkpoint that can run (or the next weekly run).
  for (const [i, slot] of slots.entries()) {
    if (slot.kind !== 'checkpoint') continue;
    const next = slots.slice(i + 1).find((s) => s.skip === null && s.kind !== 'postmortem');
    slot.usefulUntil = next?.at ?? null;
  }
  return slots;
}

/** The slots due in [from, to] (UTC), with the weeks around them planned. */
export function slotsBetween(config: AppConfig, from: Date, to: Date): ScheduleSlot[] {
  const fromDate = utcToEt(from).date;
  // Planned a week further, so the last checkpoints know the next run (their usefulness ends there).
  const toDate = addDays(utcToEt(to).date, 8);
  return scheduleSlots(config, fromDate, toDate).filter((s) => s.at >= from && s.at <= to);
}
