import type { AppConfig } from '../config/app-config.js';
import { addDays, etIso, nextTradingDay, previousTradingDay, tradingDayOnOrAfter } from '../market/calendar.js';
import type { MarketData } from '../ports/market-data.js';
import { UserError } from '../errors.js';

/**
 * The dates of one weekly run. The run happens before the open on the decision day (Wednesday, or the
 * next trading day when Wednesday is a holiday): agents see bars through the previous close only,
 * and simulated fills happen at the decision day's open.
 */
export interface WeekInfo {
  week_id: string;
  /** The decision instant in America/New_York, e.g. 2024-03-06T08:00:00-05:00. */
  asof_et: string;
  /** The last session whose bar the agents may see. */
  data_through: string;
  /** The session whose open fills the weekly orders. */
  fill_date: string;
  /** The last session of the week (the day before the next decision day). */
  week_end: string;
}

export class WeekError extends UserError {}

/** Sessions of history the snapshot needs before the first decision (52-week high/low, SMA200). */
const MIN_HISTORY_SESSIONS = 260;

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export async function resolveWeek(date: string | undefined, config: AppConfig, marketData: MarketData): Promise<WeekInfo> {
  const day = config.schedule.weekly.day;
  if (date === undefined) return latestCompleteWeek(config, (await marketData.coverage(config.tickers)).last);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(date) ||
    Number.isNaN(Date.parse(`${date}T00:00:00Z`)) ||
    new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date
  ) {
    throw new WeekError(`invalid date "${date}": expected YYYY-MM-DD`);
  }
  checkDecisionWeekday(date, day);
  // The market data is read only for a date that passed the checks above (reading it costs time).
  const coverage = await marketData.coverage(config.tickers);
  const week = weekOf(date, config);
  const earliest = sessionsAfter(coverage.first, MIN_HISTORY_SESSIONS);
  // The fill day's bar may be missing: the decision runs on the close before it, and its orders wait
  // for the open (`pending_open`) until the data has that day.
  if (week.data_through < earliest || week.data_through > coverage.last) {
    throw new WeekError(
      `no market data for the week of ${date}: the bundled data covers ${coverage.first}..${coverage.last} for all ${config.tickers.length} instruments, and a week needs ${MIN_HISTORY_SESSIONS} sessions of history (first usable week ${shiftToWeekday(earliest, day, 1)}) and the close before its decision (${week.data_through}): the last usable week is ${latestUsableWeek(config, coverage.last)}, the last complete one ${latestCompleteWeek(config, coverage.last).week_id}`,
    );
  }
  return week;
}

/** Refuses a decision date that is not on the configured weekday, suggesting the one of that week. */
export function checkDecisionWeekday(date: string, day: string): void {
  const weekday = weekdayName(date);
  if (weekday === day) return;
  const suggestion = shiftToWeekday(date, day);
  throw new WeekError(
    `${date} is a ${capitalize(weekday)}; the weekly run is on ${capitalize(day)}s (config/schedule.yaml): use ${suggestion}`,
  );
}

export function weekOf(weekId: string, config: AppConfig): WeekInfo {
  const fill_date = tradingDayOnOrAfter(weekId);
  const nextDecision = tradingDayOnOrAfter(addDays(weekId, 7));
  return {
    week_id: weekId,
    asof_et: etIso(fill_date, config.schedule.weekly.time),
    data_through: previousTradingDay(fill_date),
    fill_date,
    week_end: previousTradingDay(nextDecision),
  };
}

/** The latest week whose every session, through the day before the next decision, is in the data. */
function latestCompleteWeek(config: AppConfig, last: string): WeekInfo {
  let candidate = shiftToWeekday(last, config.schedule.weekly.day, -1);
  for (;;) {
    const week = weekOf(candidate, config);
    if (week.week_end <= last) return week;
    candidate = addDays(candidate, -7);
  }
}

/** The latest decision day whose close before it is in the data (its week may not be over yet). */
function latestUsableWeek(config: AppConfig, last: string): string {
  let candidate = shiftToWeekday(addDays(last, 7), config.schedule.weekly.day, -1);
  while (weekOf(candidate, config).data_through > last) candidate = addDays(candidate, -7);
  return candidate;
}

function weekdayName(date: string): string {
  return WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()] as string;
}

/** The given weekday nearest to `date` in `direction` (0: same week's, -1: on or before, 1: on or after). */
export function shiftToWeekday(date: string, weekday: string, direction: -1 | 0 | 1 = 0): string {
  const target = WEEKDAYS.indexOf(weekday);
  const current = new Date(`${date}T00:00:00Z`).getUTCDay();
  let delta = target - current;
  if (direction === -1 && delta > 0) delta -= 7;
  if (direction === 1 && delta < 0) delta += 7;
  return addDays(date, delta);
}

function sessionsAfter(date: string, count: number): string {
  let day = date;
  for (let i = 0; i < count; i++) day = nextTradingDay(day);
  return day;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
