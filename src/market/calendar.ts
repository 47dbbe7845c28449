/**
 * NYSE trading calendar and America/New_York clock conversions.
 *
 * Dates are 'YYYY-MM-DD' strings naming a New York calendar day; times are 'HH:MM' New York wall
 * clock. Nothing here depends on the process time zone: date arithmetic is done on UTC midnights,
 * and New York offsets come from Intl (the IANA database built into Node), so DST is exact.
 *
 * Holidays come from three sources:
 *  - `nyse-holidays` for the standing holiday rules. It builds Date objects in the machine's local
 *    time zone, so we only read its `dateString` field (formatted in that same zone, hence the same
 *    calendar day whatever TZ is) and never its Date.
 *  - SPECIAL_CLOSURES: unscheduled full-day closures (mourning days, 9/11, Hurricane Sandy) that
 *    the package does not know.
 *  - early-close rules and EARLY_CLOSE_ADHOC: 13:00 closes, which the package does not model.
 * Reference: NYSE closings history as encoded in pandas_market_calendars (nyse.py). Verified against
 * the bundled SPY bars (1993-01-29 .. 2025-09-26): the trading days match exactly. Years after 2026
 * follow the standing rules only, so a future unscheduled closure would be missing.
 * Late openings (e.g. 12:00 on 2002-09-11) and mishaps (15:56 close on 2005-06-01) are not modelled:
 * every session opens at 09:30.
 *
 * Which days trade and their hours come from the process's TradingCalendar: the rules above
 * (`builtinCalendar`) unless another one was installed at start-up with useTradingCalendar — with
 * MARKET_DATA=alpaca, Alpaca's calendar as `data sync` stored it (synced-calendar.ts). Every function
 * below (trading days, sessions, stepping) asks it, so the pipeline, the checkpoints and the schedule
 * daemon follow one calendar without passing it around.
 */
import { getHolidays } from 'nyse-holidays';

export const NY_TIME_ZONE = 'America/New_York';
export const SESSION_OPEN = '09:30';
export const REGULAR_CLOSE = '16:00';
export const EARLY_CLOSE = '13:00';

export interface SessionHours {
  /** 'HH:MM' New York: 09:30, and 16:00 or 13:00 (an early close) for the built-in calendar. */
  open: string;
  close: string;
}

/** Which days the exchange trades and their regular hours. */
export interface TradingCalendar {
  /** 'builtin', or where the days came from ('alpaca 2016-01-04..2026-12-31'). */
  readonly name: string;
  /** The regular session of `date`, or null when the exchange is closed that day. */
  session(date: string): SessionHours | null;
  /** Why a weekday is closed (a holiday's name), or null when it trades. */
  closureName(date: string): string | null;
}

/** Full-day closures outside the standing holiday rules (1993 onwards). */
const SPECIAL_CLOSURES: ReadonlyMap<string, string> = new Map([
  ['1994-04-27', 'President Nixon funeral'],
  ['2001-09-11', 'September 11 attacks'],
  ['2001-09-12', 'September 11 attacks'],
  ['2001-09-13', 'September 11 attacks'],
  ['2001-09-14', 'September 11 attacks'],
  ['2004-06-11', 'President Reagan day of mourning'],
  ['2007-01-02', 'President Ford day of mourning'],
  ['2012-10-29', 'Hurricane Sandy'],
  ['2012-10-30', 'Hurricane Sandy'],
  ['2018-12-05', 'President George H. W. Bush day of mourning'],
  ['2025-01-09', 'President Carter day of mourning'],
]);

/** 13:00 closes that no standing rule produces. */
const EARLY_CLOSE_ADHOC: ReadonlySet<string> = new Set(['1996-12-24', '1997-12-24', '1998-12-24', '1997-12-26', '2003-12-26']);

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_MS = 86_400_000;

// ---------- date strings ----------

/**
 * Days already converted, both ways: a backtest converts the same few thousand dates (bars, weeks,
 * checkpoints) millions of times, and a regex, Date.UTC and toISOString per call showed in its
 * profile. Only valid dates are kept; bounded (cleared when full, as the wall clocks below).
 */
const dayMsOf = new Map<string, number>();
const dateOfDayMs = new Map<number, string>();
const DAYS_MAX = 65_536;

/** Milliseconds of UTC midnight of a 'YYYY-MM-DD' date; throws on anything that is not a real date. */
function dayMs(date: string): number {
  const known = dayMsOf.get(date);
  if (known !== undefined) return known;
  const m = DATE_RE.exec(date);
  if (!m) throw new Error(`invalid date "${date}": expected YYYY-MM-DD`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw new Error(`invalid date "${date}": no such calendar day`);
  }
  if (dayMsOf.size >= DAYS_MAX) dayMsOf.clear();
  dayMsOf.set(date, ms);
  return ms;
}

function fromDayMs(ms: number): string {
  let date = dateOfDayMs.get(ms);
  if (date === undefined) {
    date = new Date(ms).toISOString().slice(0, 10);
    if (dateOfDayMs.size >= DAYS_MAX) dateOfDayMs.clear();
    dateOfDayMs.set(ms, date);
  }
  return date;
}

/** True for a well-formed, real calendar date 'YYYY-MM-DD'. (Hot: called for every row of the bars.) */
export function isValidDate(date: string): boolean {
  if (date.length !== 10 || date.charCodeAt(4) !== 45 || date.charCodeAt(7) !== 45) return false;
  const digits = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = date.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return -1;
      n = n * 10 + c;
    }
    return n;
  };
  const y = digits(0, 4);
  const m = digits(5, 7);
  const d = digits(8, 10);
  if (y < 0 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = m === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
  return d <= days;
}

/** `date` shifted by `days` calendar days. */
export function addDays(date: string, days: number): string {
  return fromDayMs(dayMs(date) + days * DAY_MS);
}

/** Day of the week: 0 = Sunday … 6 = Saturday (same numbering as Date#getUTCDay). */
export function weekdayOf(date: string): number {
  return new Date(dayMs(date)).getUTCDay();
}

/** Minutes after midnight of an 'HH:MM' time; throws on a malformed time. */
export function minutesOf(time: string): number {
  const m = TIME_RE.exec(time);
  if (!m) throw new Error(`invalid time "${time}": expected HH:MM (00:00-23:59)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

// ---------- holidays ----------

const holidaysByYear = new Map<number, ReadonlyMap<string, string>>();

/** Full-day closures of one year: standing holidays plus special closures, date → name. */
function closuresOf(year: number): ReadonlyMap<string, string> {
  let closures = holidaysByYear.get(year);
  if (!closures) {
    const map = new Map<string, string>();
    for (const h of getHolidays(year)) {
      // The package can place an observed holiday in the neighbouring year; keep only this year's.
      if (h.dateString.startsWith(`${year}-`)) map.set(h.dateString, h.name);
    }
    for (const [date, name] of SPECIAL_CLOSURES) {
      if (date.startsWith(`${year}-`)) map.set(date, name);
    }
    closures = map;
    holidaysByYear.set(year, closures);
  }
  return closures;
}

function builtinClosureName(date: string): string | null {
  dayMs(date);
  return closuresOf(Number(date.slice(0, 4))).get(date) ?? null;
}

function builtinIsTradingDay(date: string): boolean {
  const wd = weekdayOf(date);
  if (wd === 0 || wd === 6) return false;
  return builtinClosureName(date) === null;
}

/** Thanksgiving: the fourth Thursday of November. */
function thanksgiving(year: number): string {
  const nov1 = new Date(Date.UTC(year, 10, 1)).getUTCDay();
  const firstThursday = 1 + ((4 - nov1 + 7) % 7);
  return fromDayMs(Date.UTC(year, 10, firstThursday + 21));
}

/** Why a trading day closes at 13:00, or null for a full session. Rules follow NYSE practice since 1993. */
function earlyCloseReason(date: string): string | null {
  if (EARLY_CLOSE_ADHOC.has(date)) return 'ad hoc early close';
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  const day = Number(date.slice(8, 10));
  const wd = weekdayOf(date);
  if (year >= 1993 && date === addDays(thanksgiving(year), 1)) return 'day after Thanksgiving';
  // Christmas Eve on Mon-Thu (on a Friday it is the observed Christmas holiday).
  if (year >= 1999 && month === 12 && day === 24 && wd >= 1 && wd <= 4) return 'Christmas Eve';
  if (month === 7 && day === 3) {
    // July 3 on Mon/Tue/Thu since 1995; a Wednesday July 3 only since 2013 (before, Friday July 5 was short).
    if (year >= 1995 && (wd === 1 || wd === 2 || wd === 4)) return 'eve of Independence Day';
    if (year >= 2013 && wd === 3) return 'eve of Independence Day';
  }
  if (month === 7 && day === 5 && wd === 5 && year >= 1996 && year <= 2012) return 'day after Independence Day';
  return null;
}

const REGULAR_SESSION: SessionHours = Object.freeze({ open: SESSION_OPEN, close: REGULAR_CLOSE });
const SHORT_SESSION: SessionHours = Object.freeze({ open: SESSION_OPEN, close: EARLY_CLOSE });

/** Sessions already worked out, by date: trading-day loops ask for the same few thousand dates. */
const builtinSessions = new Map<string, SessionHours | null>();

/** The project's own NYSE calendar: the rules and tables above. */
export const builtinCalendar: TradingCalendar = Object.freeze({
  name: 'builtin',
  session: (date: string): SessionHours | null => {
    let session = builtinSessions.get(date);
    if (session === undefined) {
      session = builtinIsTradingDay(date) ? (earlyCloseReason(date) === null ? REGULAR_SESSION : SHORT_SESSION) : null;
      builtinSessions.set(date, session);
    }
    return session;
  },
  closureName: builtinClosureName,
});

// ---------- the process's calendar ----------

let active: TradingCalendar = builtinCalendar;

/**
 * Installs the calendar every function of this module answers from, for the rest of the process (or
 * until the next call). Meant for start-up, before any date is computed: results computed under one
 * calendar and used under another would disagree.
 */
export function useTradingCalendar(calendar: TradingCalendar): void {
  active = calendar;
}

/** The calendar in use. */
export function tradingCalendar(): TradingCalendar {
  return active;
}

/** Name of the holiday or closure that shuts the exchange on a weekday, or null. */
export function closureName(date: string): string | null {
  return active.closureName(date);
}

export function isTradingDay(date: string): boolean {
  return active.session(date) !== null;
}

/** True when `date` is a trading day that closes before 16:00 (13:00 on NYSE early closes). */
export function isEarlyClose(date: string): boolean {
  const session = active.session(date);
  return session !== null && minutesOf(session.close) < minutesOf(REGULAR_CLOSE);
}

/** Regular-hours session of a trading day; throws for a weekend or holiday. */
export function sessionHours(date: string): SessionHours {
  const session = active.session(date);
  if (session === null) throw new Error(`${date} is not an NYSE trading day`);
  return session;
}

// ---------- stepping through trading days ----------

// The longest run of non-trading days since 1993 is 6 (9/11 week plus the weekend); 30 is a safe bound.
const MAX_GAP_DAYS = 30;

function step(date: string, direction: 1 | -1, includeStart: boolean): string {
  let d = includeStart ? date : addDays(date, direction);
  for (let i = 0; i < MAX_GAP_DAYS; i++) {
    if (isTradingDay(d)) return d;
    d = addDays(d, direction);
  }
  throw new Error(`no NYSE trading day within ${MAX_GAP_DAYS} days of ${date}`);
}

/** The first trading day strictly after `date`. */
export function nextTradingDay(date: string): string {
  return step(date, 1, false);
}

/** The last trading day strictly before `date`. */
export function previousTradingDay(date: string): string {
  return step(date, -1, false);
}

/** `date` itself when it is a trading day, else the next one. */
export function tradingDayOnOrAfter(date: string): string {
  return step(date, 1, true);
}

/** `date` itself when it is a trading day, else the previous one. */
export function tradingDayOnOrBefore(date: string): string {
  return step(date, -1, true);
}

/** Trading days from `from` to `to`, both inclusive, ascending; [] when from > to. */
export function tradingDaysBetween(from: string, to: string): string[] {
  const end = dayMs(to);
  const out: string[] = [];
  for (let ms = dayMs(from); ms <= end; ms += DAY_MS) {
    const d = fromDayMs(ms);
    if (isTradingDay(d)) out.push(d);
  }
  return out;
}

// ---------- New York wall clock <-> UTC ----------

const nyFormatter = new Intl.DateTimeFormat('en-US', {
  timeZone: NY_TIME_ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * Wall clocks already computed, by instant: formatToParts is most of the cost of every conversion, and
 * a run converts the same few instants (checkpoints, opens, closes) over and over. Bounded: cleared
 * when full.
 */
const wallClocks = new Map<number, Readonly<WallClock>>();
const WALL_CLOCKS_MAX = 4096;

function nyWallClock(instantMs: number): Readonly<WallClock> {
  let w = wallClocks.get(instantMs);
  if (!w) {
    w = readNyWallClock(instantMs);
    if (wallClocks.size >= WALL_CLOCKS_MAX) wallClocks.clear();
    wallClocks.set(instantMs, w);
  }
  return w;
}

function readNyWallClock(instantMs: number): WallClock {
  const parts: Record<string, number> = {};
  for (const p of nyFormatter.formatToParts(new Date(instantMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const get = (k: string): number => {
    const v = parts[k];
    if (v === undefined || Number.isNaN(v)) throw new Error(`Intl returned no ${k} for America/New_York`);
    return v;
  };
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

/** New York's offset from UTC in minutes at an instant (−300 in EST, −240 in EDT). */
function nyOffsetMinutes(instantMs: number): number {
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  const w = nyWallClock(wholeSecond);
  const wallAsUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((wallAsUtc - wholeSecond) / 60_000);
}

/**
 * The instant of New York wall time `time` on `date`. Across DST this is exact. The two hours a year
 * that are ambiguous or missing (never during the session) resolve like Temporal's 'compatible':
 * an ambiguous 01:30 takes the earlier (EDT) instant, a missing 02:30 moves forward to 03:30 EDT.
 */
export function etToUtc(date: string, time: string): Date {
  const wallAsUtc = dayMs(date) + minutesOf(time) * 60_000;
  const first = nyOffsetMinutes(wallAsUtc);
  const guess = wallAsUtc - first * 60_000;
  const second = nyOffsetMinutes(guess);
  if (second !== first) {
    const retry = wallAsUtc - second * 60_000;
    if (nyOffsetMinutes(retry) === second) return new Date(retry);
  }
  return new Date(guess);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** New York calendar date and 'HH:MM' wall time of an instant (seconds are truncated). */
export function utcToEt(instant: Date): { date: string; time: string } {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw new Error('utcToEt: invalid Date');
  const w = nyWallClock(ms);
  return { date: `${w.year}-${pad2(w.month)}-${pad2(w.day)}`, time: `${pad2(w.hour)}:${pad2(w.minute)}` };
}

/** ISO-8601 timestamp with New York's offset at that moment, e.g. '2024-03-06T08:00:00-05:00'. */
export function etIso(date: string, time: string): string {
  const instant = etToUtc(date, time);
  const offset = nyOffsetMinutes(instant.getTime());
  const wall = utcToEt(instant); // differs from the input only for a time that does not exist (DST gap)
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${wall.date}T${wall.time}:00${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}
