/**
 * Which dates a sync asks Alpaca for, given what a series already holds (its sync state: the range of
 * dates asked for before, which is stored whole). Pure.
 *
 * - Nothing stored, or stored with another feed or adjustment: everything, [from, to].
 * - Else the part before the stored range when `from` is earlier, and the part after it from
 *   `resume` (a few sessions before the last stored date: Alpaca corrects recent bars, and the last
 *   day may have been fetched before it ended) to `to`. A `from` inside or after the stored range
 *   moves nothing: the stored range stays one piece, without holes.
 */
export interface DateRange {
  from: string;
  to: string;
}

export interface Window extends DateRange {
  /** 'all': a first or full fetch; 'before' / 'after': the stored range grows that way. */
  kind: 'all' | 'before' | 'after';
}

export function fetchWindows(
  stored: DateRange | null,
  want: DateRange,
  resume: string | null,
  dayBefore: (date: string) => string,
): Window[] {
  if (want.from > want.to) return [];
  if (stored === null || resume === null) return [{ kind: 'all', ...want }];
  const windows: Window[] = [];
  if (want.from < stored.from) windows.push({ kind: 'before', from: want.from, to: dayBefore(stored.from) });
  const start = resume < stored.from ? stored.from : resume;
  if (want.to >= start) windows.push({ kind: 'after', from: start, to: want.to });
  return windows;
}

/** The union of the stored range and a fetched window that touches it. */
export function grow(stored: DateRange | null, fetched: DateRange): DateRange {
  if (stored === null) return fetched;
  return { from: fetched.from < stored.from ? fetched.from : stored.from, to: fetched.to > stored.to ? fetched.to : stored.to };
}
