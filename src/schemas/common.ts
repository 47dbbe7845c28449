import { z } from 'zod';

/** The decision Wednesday of a week, YYYY-MM-DD (America/New_York calendar date). */
export const WeekId = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');

/** An ISO-8601 timestamp with offset, e.g. 2024-03-06T08:00:00-05:00. */
export const AsOfEt = z.string().min(10);

export const Ticker = z.string().regex(/^[A-Z]{1,6}$/, 'expected an upper-case ticker symbol');

export const Direction = z.enum(['LONG', 'SHORT', 'FLAT']);
export type Direction = z.infer<typeof Direction>;

export const Horizon = z.enum(['1D', '3D', '1W']);
export type Horizon = z.infer<typeof Horizon>;

/** Conviction −2..+2; the sign must agree with the direction (see checkConvictionSign). */
export const Conviction = z.number().int().min(-2).max(2);

/** An HH:MM time of day in America/New_York. */
export const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');

/**
 * Conviction is signed: >0 for LONG, <0 for SHORT, 0 iff FLAT. JSON Schema cannot say this,
 * so every schema that carries a direction and a conviction refines with this rule.
 */
export function convictionSignProblem(direction: Direction, conviction: number): string | null {
  if (direction === 'FLAT' && conviction !== 0) return `conviction must be 0 for FLAT, got ${conviction}`;
  if (direction === 'LONG' && conviction <= 0) return `conviction must be > 0 for LONG, got ${conviction}`;
  if (direction === 'SHORT' && conviction >= 0) return `conviction must be < 0 for SHORT, got ${conviction}`;
  return null;
}
