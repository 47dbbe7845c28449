/**
 * Generic recurring US events that can be placed from the calendar alone. Release dates do move
 * (holidays, shutdowns, agency schedules), so each entry says "scheduled (typical), verify": the
 * offline researcher has no news feed and must not pretend to know the actual schedule. Rules that
 * are not calendar-derivable (CPI, FOMC, PCE) are deliberately left out rather than guessed.
 */
import { addDays, isEarlyClose, isTradingDay, nextTradingDay, previousTradingDay, weekdayOf } from '../../market/calendar.js';
import type { ResearchPack } from '../../schemas/index.js';

export type CalendarEvent = ResearchPack['event_calendar'][number];

const TYPICAL = 'scheduled (typical), verify';

/** The `count` trading days that follow `lastSession` (the snapshot's data_through). */
export function nextTradingDays(lastSession: string, count: number): string[] {
  const days: string[] = [];
  let d = lastSession;
  for (let i = 0; i < count; i++) {
    d = nextTradingDay(d);
    days.push(d);
  }
  return days;
}

/** The n-th given weekday (0 = Sunday) of the month of `date` (n = 1 for the first). */
function nthWeekdayOfMonth(date: string, weekday: number, n: number): string {
  const first = `${date.slice(0, 7)}-01`;
  const offset = (weekday - weekdayOf(first) + 7) % 7;
  return addDays(first, offset + 7 * (n - 1));
}

/**
 * The usual Employment Situation Friday in the month of `date`: BLS publishes on the third Friday
 * after the reference week (the Sunday–Saturday week containing the 12th) of the previous month,
 * which lands between the 1st and the 9th. Agency holidays and shutdowns move it: hence "verify".
 */
function payrollsDate(date: string): string {
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  const prevYear = month === 1 ? year - 1 : year;
  const prevMonth = month === 1 ? 12 : month - 1;
  const twelfth = `${prevYear}-${String(prevMonth).padStart(2, '0')}-12`;
  const saturday = addDays(twelfth, 6 - weekdayOf(twelfth));
  return addDays(saturday, 6 + 14); // the first Friday after that Saturday is +6 days; two more weeks
}

/** A release set for a closed day typically moves to the session before. */
function onOrBeforeTrading(date: string): string {
  return isTradingDay(date) ? date : previousTradingDay(date);
}

function sameMonth(a: string, b: string): boolean {
  return a.slice(0, 7) === b.slice(0, 7);
}

/** Index (1-based) of a trading day within its month. */
function tradingDayOfMonth(date: string): number {
  let n = 1;
  let d = previousTradingDay(date);
  while (sameMonth(d, date)) {
    n += 1;
    d = previousTradingDay(d);
  }
  return n;
}

function event(date: string, name: string, relevance: string): CalendarEvent {
  return { date, event: `${name} - ${TYPICAL}`, relevance };
}

/** Recurring events on one trading day, in intraday order. */
function eventsOn(date: string): CalendarEvent[] {
  const out: CalendarEvent[] = [];
  const wd = weekdayOf(date);
  const nthSession = tradingDayOfMonth(date);
  const lastOfMonth = !sameMonth(nextTradingDay(date), date);
  const month = Number(date.slice(5, 7));

  const payrolls = payrollsDate(date);
  if (onOrBeforeTrading(payrolls) === date) {
    const when =
      payrolls === date
        ? 'third Friday after the survey reference week'
        : `the usual Friday ${payrolls} is a market holiday, so typically the session before`;
    out.push(
      event(
        date,
        `US Employment Situation (nonfarm payrolls, unemployment rate), 08:30 ET (${when})`,
        'labor data: SPY, QQQ, IWM, TLT, IEF, UUP',
      ),
    );
  }
  if (wd === 4) {
    out.push(event(date, 'US initial jobless claims, 08:30 ET (weekly, Thursday)', 'labor data: IWM, TLT, IEF'));
  }
  if (nthSession === 1) {
    out.push(event(date, 'ISM Manufacturing PMI, 10:00 ET (first business day)', 'growth and prices paid: IWM, USO, TLT'));
  }
  if (nthSession === 3) {
    out.push(event(date, 'ISM Services PMI, 10:00 ET (third business day)', 'services growth and prices: SPY, TLT, IEF'));
  }
  if (wd === 3) {
    out.push(event(date, 'EIA Weekly Petroleum Status Report, 10:30 ET (Wednesday)', 'crude inventories: USO'));
  }
  if (onOrBeforeTrading(nthWeekdayOfMonth(date, 5, 3)) === date) {
    out.push(event(date, 'Monthly equity options expiration (third Friday)', 'positioning and volatility: SPY, QQQ, IWM'));
  }
  if (isEarlyClose(date)) {
    out.push(
      event(
        date,
        'NYSE early close at 13:00 ET (thin liquidity into the holiday)',
        'liquidity: all ten ETFs; the 14:00 and 15:50 checkpoints fall after the close',
      ),
    );
  }
  if (lastOfMonth) {
    const quarter = month % 3 === 0;
    out.push(
      event(
        date,
        quarter
          ? 'Quarter-end: last session of the quarter (rebalancing and window-dressing flows)'
          : 'Month-end: last session of the month (rebalancing flows)',
        'index and balanced-fund rebalancing: SPY, TLT, IEF, LQD',
      ),
    );
  }
  return out;
}

/** Recurring events over the next `count` trading days after `lastSession`. */
export function recurringEvents(lastSession: string, count = 7): CalendarEvent[] {
  return nextTradingDays(lastSession, count).flatMap(eventsOn);
}
