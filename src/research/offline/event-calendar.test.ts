import { describe, expect, it } from 'vitest';
import { nextTradingDays, recurringEvents } from './event-calendar.js';

function names(events: ReturnType<typeof recurringEvents>, date: string): string[] {
  return events.filter((e) => e.date === date).map((e) => e.event);
}

function payrollDates(lastSession: string, days = 7): string[] {
  return recurringEvents(lastSession, days)
    .filter((e) => e.event.startsWith('US Employment Situation'))
    .map((e) => e.date);
}

describe('recurring event calendar', () => {
  it('steps over weekends and NYSE holidays', () => {
    // 2024-11-28 is Thanksgiving.
    expect(nextTradingDays('2024-11-26', 4)).toEqual(['2024-11-27', '2024-11-29', '2024-12-02', '2024-12-03']);
  });

  it('dates payrolls on the third Friday after the reference week, as BLS did', () => {
    expect(payrollDates('2024-02-29')).toEqual(['2024-03-08']); // not Friday 03-01
    expect(payrollDates('2024-10-28')).toEqual(['2024-11-01']);
    expect(payrollDates('2025-06-02')).toEqual(['2025-06-06']);
    expect(payrollDates('2025-06-30')).toEqual(['2025-07-03']); // Friday 07-04 is a holiday
  });

  it('places ISM on business days 1 and 3, options expiry on the third Friday, and month-end', () => {
    const events = recurringEvents('2024-02-27', 7); // 2024-02-28 .. 2024-03-07
    expect(names(events, '2024-03-01').some((e) => e.startsWith('ISM Manufacturing'))).toBe(true);
    expect(names(events, '2024-03-05').some((e) => e.startsWith('ISM Services'))).toBe(true);
    expect(names(events, '2024-02-29').some((e) => e.startsWith('Month-end'))).toBe(true);
    expect(names(events, '2024-02-28').some((e) => e.startsWith('EIA Weekly Petroleum'))).toBe(true);
    const march = recurringEvents('2024-03-13', 3); // 2024-03-14 .. 2024-03-18
    expect(names(march, '2024-03-15').some((e) => e.startsWith('Monthly equity options expiration'))).toBe(true);
    expect(march.every((e) => e.event.endsWith('scheduled (typical), verify'))).toBe(true);
  });
});
