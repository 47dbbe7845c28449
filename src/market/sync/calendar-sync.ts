/**
 * Alpaca's trading calendar into market_calendar: the whole range each time (one request of a few
 * thousand small rows), so a closure Alpaca adds later (a day of mourning) replaces what was stored.
 */
import type { AlpacaClient } from '../../broker/alpaca/client.js';
import type { Db } from '../../storage/db.js';
import { CALENDAR_SERIES } from '../synced-calendar.js';
import { readState, replaceCalendar, writeState } from './store.js';
import type { DateRange } from './windows.js';

export interface CalendarSyncResult {
  first: string;
  last: string;
  /** Trading days Alpaca listed in the range. */
  tradingDays: number;
  /** Days added, changed or removed since the last sync. */
  changed: number;
}

export async function syncCalendar(db: Db, client: AlpacaClient, want: DateRange, now: Date): Promise<CalendarSyncResult> {
  const state = await readState(db, CALENDAR_SERIES);
  const range = {
    from: state && state.firstDate < want.from ? state.firstDate : want.from,
    to: state && state.lastDate > want.to ? state.lastDate : want.to,
  };
  const days = await client.getCalendar(range.from, range.to);
  const rows = days.map((d) => ({
    date: d.date,
    open: d.open,
    close: d.close,
    sessionOpen: d.sessionOpen,
    sessionClose: d.sessionClose,
    openAt: new Date(d.openAt),
    closeAt: new Date(d.closeAt),
    fetchedAt: now,
  }));
  const changed = await db.transaction(async (tx) => {
    const n = await replaceCalendar(tx, range.from, range.to, rows);
    await writeState(tx, {
      series: CALENDAR_SERIES,
      ticker: null,
      feed: null,
      adjustment: null,
      firstDate: range.from,
      lastDate: range.to,
      syncedAt: now,
    });
    return n;
  });
  return { first: range.from, last: range.to, tradingDays: rows.length, changed };
}
