import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHolidays } from 'nyse-holidays';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  addDays,
  closureName,
  etIso,
  etToUtc,
  isEarlyClose,
  isTradingDay,
  isValidDate,
  nextTradingDay,
  previousTradingDay,
  sessionHours,
  tradingDayOnOrAfter,
  tradingDayOnOrBefore,
  tradingDaysBetween,
  utcToEt,
  weekdayOf,
} from './calendar.js';

const SPY_CSV = fileURLToPath(new URL('../../data/etf-daily/SPY.csv', import.meta.url));

describe('holidays and closures', () => {
  it('closes on the standing holidays, including observed ones', () => {
    expect(isTradingDay('2025-06-19')).toBe(false); // Juneteenth, Thursday
    expect(isTradingDay('2022-06-20')).toBe(false); // Juneteenth on Sunday, observed Monday
    expect(isTradingDay('2024-11-28')).toBe(false); // Thanksgiving
    expect(isTradingDay('2024-03-29')).toBe(false); // Good Friday
    expect(isTradingDay('2021-12-24')).toBe(false); // Christmas on Saturday, observed Friday
    expect(isTradingDay('2023-01-02')).toBe(false); // New Year on Sunday, observed Monday
    expect(closureName('2025-06-19')).toMatch(/Juneteenth/);
  });

  it('does not observe New Year on the previous Friday when Jan 1 is a Saturday', () => {
    expect(isTradingDay('2021-12-31')).toBe(true);
    expect(isTradingDay('2010-12-31')).toBe(true);
  });

  it('knows the special closures that nyse-holidays lacks', () => {
    const special = [
      '1994-04-27',
      '2001-09-11',
      '2001-09-12',
      '2001-09-13',
      '2001-09-14',
      '2004-06-11',
      '2007-01-02',
      '2012-10-29',
      '2012-10-30',
      '2018-12-05',
      '2025-01-09',
    ];
    for (const d of special) {
      const packageKnows = getHolidays(Number(d.slice(0, 4))).some((h) => h.dateString === d);
      expect(packageKnows, `nyse-holidays already lists ${d}`).toBe(false);
      expect(isTradingDay(d), d).toBe(false);
      expect(closureName(d), d).not.toBeNull();
    }
    expect(closureName('2025-01-09')).toMatch(/Carter/);
  });

  it('is closed on weekends and open on ordinary weekdays', () => {
    expect(isTradingDay('2024-03-09')).toBe(false);
    expect(isTradingDay('2024-03-10')).toBe(false);
    expect(isTradingDay('2024-03-06')).toBe(true);
    expect(closureName('2024-03-06')).toBeNull();
  });

  it('matches every session in the bundled SPY history (1993-2025) exactly', () => {
    const dates = readFileSync(SPY_CSV, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.slice(0, 10));
    expect(dates.length).toBe(8222);
    expect(tradingDaysBetween(dates[0] as string, dates.at(-1) as string)).toEqual(dates);
  });

  it('has the NYSE number of sessions per year', () => {
    const expected: Record<number, number> = {
      2015: 252,
      2016: 252,
      2017: 251,
      2018: 251,
      2019: 252,
      2020: 253,
      2021: 252,
      2022: 251,
      2023: 250,
      2024: 252,
    };
    for (const [year, n] of Object.entries(expected)) {
      expect(tradingDaysBetween(`${year}-01-01`, `${year}-12-31`).length, year).toBe(n);
    }
  });
});

describe('early closes', () => {
  const early = [
    '2024-07-03',
    '2024-11-29',
    '2024-12-24',
    '2025-07-03',
    '2025-11-28',
    '2025-12-24',
    '2023-07-03',
    '2023-11-24',
    '2019-07-03', // Wednesday: early close since 2013
    '2013-07-03',
    '2018-12-24',
    '2020-11-27',
    '2020-12-24',
    '2002-07-05', // Friday after July 4, before 2013
    '2003-12-26',
    '2000-07-03',
    '2026-11-27',
    '2026-12-24',
  ];
  const full = ['2002-07-03', '2013-07-05', '2024-12-26', '2024-07-05', '2024-11-27', '2024-03-06', '2010-12-23'];

  it('closes at 13:00 on the NYSE early-close days', () => {
    for (const d of early) {
      expect(isEarlyClose(d), d).toBe(true);
      expect(sessionHours(d), d).toEqual({ open: '09:30', close: '13:00' });
    }
  });

  it('keeps full sessions on neighbouring days', () => {
    for (const d of full) {
      expect(isEarlyClose(d), d).toBe(false);
      expect(sessionHours(d), d).toEqual({ open: '09:30', close: '16:00' });
    }
  });

  it('has the right early closes per year', () => {
    const earlyIn = (y: number) => tradingDaysBetween(`${y}-01-01`, `${y}-12-31`).filter(isEarlyClose);
    expect(earlyIn(2024)).toEqual(['2024-07-03', '2024-11-29', '2024-12-24']);
    expect(earlyIn(2025)).toEqual(['2025-07-03', '2025-11-28', '2025-12-24']);
    // July 3 2026 is a Friday: the observed Independence Day holiday, not an early close.
    expect(earlyIn(2026)).toEqual(['2026-11-27', '2026-12-24']);
    expect(isTradingDay('2026-07-03')).toBe(false);
    // 2021: Christmas Eve is the observed holiday.
    expect(earlyIn(2021)).toEqual(['2021-11-26']);
  });

  it('refuses session hours for a closed day', () => {
    expect(() => sessionHours('2024-11-28')).toThrow(/not an NYSE trading day/);
    expect(() => sessionHours('2024-03-09')).toThrow(/not an NYSE trading day/);
  });
});

describe('stepping through trading days', () => {
  it('steps over Thanksgiving with its early close', () => {
    expect(nextTradingDay('2024-11-27')).toBe('2024-11-29');
    expect(previousTradingDay('2024-11-29')).toBe('2024-11-27');
    expect(tradingDaysBetween('2024-11-25', '2024-11-29')).toEqual(['2024-11-25', '2024-11-26', '2024-11-27', '2024-11-29']);
  });

  it('steps over the Juneteenth week', () => {
    expect(tradingDaysBetween('2025-06-16', '2025-06-22')).toEqual(['2025-06-16', '2025-06-17', '2025-06-18', '2025-06-20']);
    expect(nextTradingDay('2025-06-18')).toBe('2025-06-20');
    expect(previousTradingDay('2025-06-20')).toBe('2025-06-18');
  });

  it('steps over long weekends (MLK, Good Friday, Labor Day)', () => {
    expect(nextTradingDay('2025-01-17')).toBe('2025-01-21');
    expect(previousTradingDay('2025-01-21')).toBe('2025-01-17');
    expect(nextTradingDay('2024-03-28')).toBe('2024-04-01');
    expect(previousTradingDay('2024-04-01')).toBe('2024-03-28');
    expect(nextTradingDay('2024-08-30')).toBe('2024-09-03');
  });

  it('steps over special closures', () => {
    expect(nextTradingDay('2001-09-10')).toBe('2001-09-17');
    expect(previousTradingDay('2001-09-17')).toBe('2001-09-10');
    expect(nextTradingDay('2025-01-08')).toBe('2025-01-10');
    expect(nextTradingDay('2012-10-26')).toBe('2012-10-31');
  });

  it('is strict for next/previous and inclusive for on-or-after/on-or-before', () => {
    expect(nextTradingDay('2024-03-06')).toBe('2024-03-07');
    expect(previousTradingDay('2024-03-06')).toBe('2024-03-05');
    expect(tradingDayOnOrAfter('2024-03-06')).toBe('2024-03-06');
    expect(tradingDayOnOrAfter('2024-03-09')).toBe('2024-03-11');
    expect(tradingDayOnOrAfter('2024-11-28')).toBe('2024-11-29');
    expect(tradingDayOnOrBefore('2024-03-10')).toBe('2024-03-08');
    expect(previousTradingDay('2024-01-02')).toBe('2023-12-29');
  });

  it('returns [] for an empty range and counts both ends', () => {
    expect(tradingDaysBetween('2024-03-08', '2024-03-04')).toEqual([]);
    expect(tradingDaysBetween('2024-03-06', '2024-03-06')).toEqual(['2024-03-06']);
    expect(tradingDaysBetween('2024-03-09', '2024-03-10')).toEqual([]);
  });

  it('rejects malformed and impossible dates', () => {
    expect(() => isTradingDay('2024-02-30')).toThrow(/no such calendar day/);
    expect(() => isTradingDay('2024-3-6')).toThrow(/expected YYYY-MM-DD/);
    expect(() => nextTradingDay('yesterday')).toThrow(/invalid date/);
  });

  it('gives weekdays and adds days across month and year ends', () => {
    expect(weekdayOf('2024-03-06')).toBe(3);
    expect(weekdayOf('2024-03-10')).toBe(0);
    expect(weekdayOf('2024-03-09')).toBe(6);
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(addDays('2024-03-11', -2)).toBe('2024-03-09');
  });
});

describe('New York clock across DST', () => {
  it('uses -05:00 before and -04:00 after the spring-forward (2024-03-10)', () => {
    expect(etIso('2024-03-06', '08:00')).toBe('2024-03-06T08:00:00-05:00');
    expect(etIso('2024-03-08', '15:50')).toBe('2024-03-08T15:50:00-05:00');
    expect(etIso('2024-03-11', '09:00')).toBe('2024-03-11T09:00:00-04:00');
    expect(etToUtc('2024-03-08', '09:30').toISOString()).toBe('2024-03-08T14:30:00.000Z');
    expect(etToUtc('2024-03-11', '09:30').toISOString()).toBe('2024-03-11T13:30:00.000Z');
    expect(etToUtc('2024-03-10', '01:59').toISOString()).toBe('2024-03-10T06:59:00.000Z');
    expect(etToUtc('2024-03-10', '03:00').toISOString()).toBe('2024-03-10T07:00:00.000Z');
  });

  it('uses -04:00 before and -05:00 after the fall-back (2024-11-03)', () => {
    expect(etIso('2024-11-01', '12:00')).toBe('2024-11-01T12:00:00-04:00');
    expect(etIso('2024-11-04', '12:00')).toBe('2024-11-04T12:00:00-05:00');
    expect(etToUtc('2024-11-01', '16:00').toISOString()).toBe('2024-11-01T20:00:00.000Z');
    expect(etToUtc('2024-11-04', '16:00').toISOString()).toBe('2024-11-04T21:00:00.000Z');
    expect(etToUtc('2024-11-03', '03:00').toISOString()).toBe('2024-11-03T08:00:00.000Z');
  });

  it('resolves the missing and the repeated hour like Temporal "compatible"', () => {
    // 02:30 does not exist on 2024-03-10: moves forward to 03:30 EDT.
    expect(etToUtc('2024-03-10', '02:30').toISOString()).toBe('2024-03-10T07:30:00.000Z');
    expect(etIso('2024-03-10', '02:30')).toBe('2024-03-10T03:30:00-04:00');
    // 01:30 happens twice on 2024-11-03: the earlier (EDT) instant.
    expect(etToUtc('2024-11-03', '01:30').toISOString()).toBe('2024-11-03T05:30:00.000Z');
    expect(etIso('2024-11-03', '01:30')).toBe('2024-11-03T01:30:00-04:00');
  });

  it('converts UTC instants back to New York date and time, across midnight', () => {
    expect(utcToEt(new Date('2024-03-11T13:30:00Z'))).toEqual({ date: '2024-03-11', time: '09:30' });
    expect(utcToEt(new Date('2024-11-04T04:30:00Z'))).toEqual({ date: '2024-11-03', time: '23:30' });
    expect(utcToEt(new Date('2024-01-01T04:59:59Z'))).toEqual({ date: '2023-12-31', time: '23:59' });
    expect(() => utcToEt(new Date('nope'))).toThrow(/invalid Date/);
  });

  it('round-trips every quarter hour of both DST weeks (outside the 01:00-03:00 changeover)', () => {
    for (const start of ['2024-03-08', '2024-11-01']) {
      for (let day = 0; day < 5; day++) {
        const date = addDays(start, day);
        for (let m = 0; m < 24 * 60; m += 15) {
          const time = `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
          if (m >= 60 && m < 180 && (date === '2024-03-10' || date === '2024-11-03')) continue;
          const back = utcToEt(etToUtc(date, time));
          expect(back, `${date} ${time}`).toEqual({ date, time });
          expect(Date.parse(etIso(date, time))).toBe(etToUtc(date, time).getTime());
        }
      }
    }
  });

  it('rejects malformed times', () => {
    expect(() => etToUtc('2024-03-06', '24:00')).toThrow(/invalid time/);
    expect(() => etToUtc('2024-03-06', '9:30')).toThrow(/invalid time/);
    expect(() => etIso('2024-03-06', '09:60')).toThrow(/invalid time/);
  });
});

describe('independence from the process time zone', () => {
  const originalTz = process.env.TZ;
  afterEach(() => {
    if (originalTz === undefined) delete process.env.TZ;
    else process.env.TZ = originalTz;
    vi.resetModules();
  });

  it('gives the same calendar and clock under UTC, Tokyo, Los Angeles, Kiritimati (+14) and Pago Pago (-11)', async () => {
    const results: string[] = [];
    const offsets = new Set<number>();
    for (const tz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
      process.env.TZ = tz;
      offsets.add(new Date(Date.UTC(2024, 0, 1)).getTimezoneOffset());
      vi.resetModules(); // fresh module: no per-year holiday cache carried over from another zone
      const cal = await import('./calendar.js');
      results.push(
        JSON.stringify({
          days: cal.tradingDaysBetween('2020-01-01', '2026-12-31'),
          early: cal.tradingDaysBetween('2020-01-01', '2026-12-31').filter(cal.isEarlyClose),
          iso: [cal.etIso('2024-03-08', '09:30'), cal.etIso('2024-03-11', '09:30'), cal.etIso('2024-11-04', '15:50')],
          et: cal.utcToEt(new Date('2024-11-04T04:30:00Z')),
          wd: cal.weekdayOf('2025-06-19'),
        }),
      );
    }
    expect(offsets.size, 'TZ changes did not take effect in this process').toBe(5);
    expect(new Set(results).size).toBe(1);
    const first = JSON.parse(results[0] as string) as { days: string[]; iso: string[] };
    expect(first.days).toContain('2024-11-29');
    expect(first.days).not.toContain('2025-06-19');
    expect(first.iso).toEqual(['2024-03-08T09:30:00-05:00', '2024-03-11T09:30:00-04:00', '2024-11-04T15:50:00-05:00']);
  });
});

describe('isValidDate', () => {
  it('accepts real calendar days only, leap years included', () => {
    const valid = ['2024-02-29', '2000-02-29', '2024-04-30', '2024-12-31', '1993-01-29'];
    const invalid = ['2023-02-29', '1900-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '2024-1-01', 'abcd-ef-gh', '2024-02-3x', ''];
    for (const d of valid) expect(isValidDate(d), d).toBe(true);
    for (const d of invalid) expect(isValidDate(d), d).toBe(false);
  });
});
