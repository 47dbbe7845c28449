/**
 * The checkpoint slots of a week: every configured time (config/schedule.yaml, America/New_York) of
 * every trading day from the fill day through the week's last session. Some slots cannot run and are
 * recorded as skipped with the reason: on the decision day, a slot before the open (the weekly orders
 * fill at the open, so there is nothing to check yet); on an early-close day, a slot at or after the
 * 13:00 close. Holidays have no slots at all.
 *
 * When a checkpoint's orders fill (daily bars, printed prices only): a decision before the open fills
 * at the open (market-on-open); one during the session fills at the day's close (market-on-close).
 * So a 12:00 EXIT is exposed to the afternoon's move: the price of using only printed prices.
 */
import type { AppConfig } from '../config/app-config.js';
import { etIso, etToUtc, minutesOf, SESSION_OPEN, sessionHours, tradingDaysBetween } from '../market/calendar.js';
import type { WeekInfo } from '../council/week.js';

export interface CheckpointSlot {
  week_id: string;
  date: string;
  time: string;
  /** The decision instant, UTC. */
  at: Date;
  /** The same instant in America/New_York with its offset, e.g. 2024-03-07T12:00:00-05:00. */
  checkpoint_et: string;
  /** Why the slot does not run, or null. */
  skip: string | null;
  /** When its orders fill: the open for a decision before it, else the session's close. */
  fills_at: Date;
  fills_at_label: 'open' | 'close';
}

export function slotOf(week: WeekInfo, date: string, time: string): CheckpointSlot {
  const session = sessionHours(date);
  const t = minutesOf(time);
  const beforeOpen = t < minutesOf(SESSION_OPEN);
  let skip: string | null = null;
  if (date === week.fill_date && beforeOpen)
    skip = `before the ${SESSION_OPEN} open of the decision day: the week's orders have not filled yet`;
  else if (t >= minutesOf(session.close))
    skip = session.close === '13:00' ? `after the ${session.close} early close` : `at or after the ${session.close} close`;
  return {
    week_id: week.week_id,
    date,
    time,
    at: etToUtc(date, time),
    checkpoint_et: etIso(date, time),
    skip,
    fills_at: etToUtc(date, beforeOpen ? SESSION_OPEN : session.close),
    fills_at_label: beforeOpen ? 'open' : 'close',
  };
}

/** Every slot of the week in time order, skipped ones included. */
export function weekSlots(week: WeekInfo, config: AppConfig): CheckpointSlot[] {
  const times = [...config.schedule.checkpoints].sort((a, b) => minutesOf(a) - minutesOf(b));
  return tradingDaysBetween(week.fill_date, week.week_end).flatMap((date) => times.map((time) => slotOf(week, date, time)));
}
