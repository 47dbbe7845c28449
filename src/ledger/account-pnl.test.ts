import { describe, expect, it } from 'vitest';
import { etToUtc } from '../market/calendar.js';
import { todayFrom } from './account-pnl.js';

describe("today's P/L starts at the close before the latest session", () => {
  it('during a session: the previous close, across the March DST change', () => {
    // Monday 2024-03-11 (EDT) → Friday 2024-03-08 16:00 EST = 21:00 UTC.
    expect(todayFrom(etToUtc('2024-03-11', '12:00')).toISOString()).toBe('2024-03-08T21:00:00.000Z');
  });
  it('before the open and on a weekend: the latest session is the one before', () => {
    expect(todayFrom(etToUtc('2024-03-11', '09:00')).toISOString()).toBe('2024-03-07T21:00:00.000Z');
    expect(todayFrom(etToUtc('2024-03-09', '12:00')).toISOString()).toBe('2024-03-07T21:00:00.000Z');
  });
  it('after a holiday and an early close: Friday after Thanksgiving counts from Wednesday’s close', () => {
    expect(todayFrom(etToUtc('2024-11-29', '12:30')).toISOString()).toBe('2024-11-27T21:00:00.000Z');
    // The Monday after: from Friday's 13:00 early close.
    expect(todayFrom(etToUtc('2024-12-02', '10:00')).toISOString()).toBe('2024-11-29T18:00:00.000Z');
  });
});
