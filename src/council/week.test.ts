import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { BundledMarketData } from '../market/bundled-market-data.js';
import { resolveWeek, WeekError } from './week.js';

const config = loadConfig();
const data = new BundledMarketData();

describe('resolveWeek', () => {
  it('defaults to the latest week whose every session is in the data for all ten instruments', async () => {
    // UUP and USO end on Friday 2025-06-27; the week of 06-25 would need Tuesday 07-01.
    expect(await resolveWeek(undefined, config, data)).toEqual({
      week_id: '2025-06-18',
      asof_et: '2025-06-18T08:00:00-04:00',
      data_through: '2025-06-17',
      fill_date: '2025-06-18',
      week_end: '2025-06-24',
    });
  });

  it('decides before the open on bars through the previous close, across DST changes', async () => {
    expect(await resolveWeek('2024-03-06', config, data)).toMatchObject({
      asof_et: '2024-03-06T08:00:00-05:00',
      data_through: '2024-03-05',
      week_end: '2024-03-12',
    });
    // Clocks sprang forward on Sunday 2024-03-10.
    expect(await resolveWeek('2024-03-13', config, data)).toMatchObject({
      asof_et: '2024-03-13T08:00:00-04:00',
      data_through: '2024-03-12',
    });
    // And fell back on Sunday 2024-11-03.
    expect(await resolveWeek('2024-11-06', config, data)).toMatchObject({
      asof_et: '2024-11-06T08:00:00-05:00',
      data_through: '2024-11-05',
    });
  });

  it('uses the next trading day when the Wednesday is a holiday', async () => {
    // Juneteenth 2024 and Christmas 2024 fell on Wednesdays.
    expect(await resolveWeek('2024-06-19', config, data)).toMatchObject({
      week_id: '2024-06-19',
      fill_date: '2024-06-20',
      data_through: '2024-06-18',
      asof_et: '2024-06-20T08:00:00-04:00',
    });
    expect(await resolveWeek('2024-12-25', config, data)).toMatchObject({
      fill_date: '2024-12-26',
      data_through: '2024-12-24',
      week_end: '2024-12-31',
    });
    // A week whose next decision day follows a Monday holiday ends on the Tuesday before it.
    expect(await resolveWeek('2024-05-22', config, data)).toMatchObject({ week_end: '2024-05-28' });
  });

  it('rejects other weekdays, impossible dates and weeks outside the data with a way forward', async () => {
    await expect(resolveWeek('2024-03-08', config, data)).rejects.toThrow(
      '2024-03-08 is a Friday; the weekly run is on Wednesdays (config/schedule.yaml): use 2024-03-06',
    );
    await expect(resolveWeek('2024-02-30', config, data)).rejects.toThrow(WeekError);
    await expect(resolveWeek('2010-01-06', config, data)).rejects.toThrow(
      /needs 260 sessions of history \(first usable week 2011-01-\d\d\)/,
    );
    await expect(resolveWeek('2025-07-02', config, data)).rejects.toThrow(/covers 2010-01-04\.\.2025-06-27/);
    // The way forward names the weeks that can run: 2025-06-25 decides on the close of 06-24 (its week
    // ends past the data), 2025-06-18 is the last whose every session is in the data.
    await expect(resolveWeek('2025-07-02', config, data)).rejects.toThrow(
      /the last usable week is 2025-06-25, the last complete one 2025-06-18$/,
    );
    await expect(resolveWeek('2025-06-25', config, data)).resolves.toMatchObject({ data_through: '2025-06-24' });
  });
});
