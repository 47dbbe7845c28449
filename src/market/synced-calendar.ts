/**
 * Alpaca's trading calendar as `data sync` stored it (tables market_calendar and market_sync_state,
 * series 'calendar'), as a TradingCalendar (calendar.ts). Inside the synced range a day trades exactly
 * when Alpaca lists it, with Alpaca's open and close (13:00 on early closes); outside the range the
 * project's own calendar answers, so dates before the history or past the last synced year still work.
 */
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../storage/db.js';
import { marketCalendar, marketSyncState } from '../storage/schema.js';
import { builtinCalendar, isValidDate, minutesOf, type SessionHours, type TradingCalendar } from './calendar.js';

export const CALENDAR_SERIES = 'calendar';

export interface CalendarDay {
  date: string;
  open: string;
  close: string;
}

const HhMm = z.string().refine((t) => {
  try {
    minutesOf(t);
    return true;
  } catch {
    return false;
  }
}, 'expected HH:MM');
const DayRow = z
  .object({ date: z.string().refine(isValidDate, 'expected YYYY-MM-DD'), open: HhMm, close: HhMm })
  .refine((d) => minutesOf(d.open) < minutesOf(d.close), 'the open must come before the close');

/** A calendar from the days Alpaca listed for [first, last]; `fallback` answers outside that range. */
export function syncedCalendar(
  range: { first: string; last: string },
  days: readonly CalendarDay[],
  fallback: TradingCalendar = builtinCalendar,
): TradingCalendar {
  const sessions = new Map<string, SessionHours>();
  for (const day of days) {
    // Rows are read back from our own table, but a hand-edited or half-migrated table would otherwise
    // turn into wrong trading days silently.
    const parsed = DayRow.safeParse(day);
    if (!parsed.success) throw new Error(`market_calendar row ${JSON.stringify(day)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    sessions.set(day.date, Object.freeze({ open: day.open, close: day.close }));
  }
  const inRange = (date: string) => date >= range.first && date <= range.last;
  return Object.freeze({
    name: `alpaca ${range.first}..${range.last}`,
    session: (date: string) => (inRange(date) ? (sessions.get(date) ?? null) : fallback.session(date)),
    closureName: (date: string) => {
      if (!inRange(date)) return fallback.closureName(date);
      if (sessions.has(date)) return null;
      // Alpaca lists trading days only: a closed weekday's reason is the project's, if it knows one.
      return fallback.closureName(date) ?? 'closed (Alpaca calendar)';
    },
  });
}

/** The synced calendar, or null when `data sync` has not stored one. */
export async function loadSyncedCalendar(db: Db): Promise<TradingCalendar | null> {
  const [state] = await db.select().from(marketSyncState).where(eq(marketSyncState.series, CALENDAR_SERIES));
  if (!state) return null;
  const rows = await db.select({ date: marketCalendar.date, open: marketCalendar.open, close: marketCalendar.close }).from(marketCalendar);
  return syncedCalendar({ first: state.firstDate, last: state.lastDate }, rows);
}
