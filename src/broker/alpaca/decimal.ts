/**
 * Alpaca's numbers at the boundary.
 *
 * In: the Trading API sends every amount, price and quantity as a decimal string ("123346.11", "-10",
 * "0.000001"; a few fields, such as the account's `bod_dtbp`, arrive as JSON numbers); the Market Data
 * API sends JSON numbers. Each is parsed once, here, into a finite number. Anything else ("", "NaN",
 * "1,000") is refused, so a malformed amount can never reach risk or the ledger as NaN.
 *
 * Out: requests carry decimal strings formatted here with an explicit number of decimals (never
 * exponent notation). A value with more decimals than allowed is refused, not rounded: rounding is the
 * caller's decision (src/broker/money.ts), and a silently changed quantity is a different order.
 */
import { z } from 'zod';
import { roundTo } from '../money.js';

/** Plain decimal notation, optionally signed; no exponent, no thousands separators. */
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** The number a decimal string or JSON number stands for, or null when it is not one. */
export function parseDecimal(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  const text = value.trim();
  if (!DECIMAL_TEXT.test(text)) return null;
  const parsed = Number(text);
  return Number.isFinite(parsed) ? parsed : null;
}

/** A decimal string or number, parsed to a finite number. */
export const decimal = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseDecimal(value);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: `not a decimal number: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return parsed;
});

/** A decimal that may be null (Alpaca's `"filled_avg_price": null`) or absent (a field Alpaca dropped). */
export const optionalDecimal = decimal
  .nullable()
  .optional()
  .transform((value) => value ?? null);

/**
 * How far a float may sit from its rounding and still count as that decimal: the noise of binary
 * arithmetic (0.1 + 0.2), not a real extra digit.
 */
const NOISE = 1e-12;

function isAtDecimals(value: number, decimals: number): boolean {
  return Math.abs(roundTo(value, decimals) - value) <= NOISE * Math.max(1, Math.abs(value));
}

/** Whether `value` is a whole number (float noise aside). */
export function isWhole(value: number): boolean {
  return Number.isFinite(value) && isAtDecimals(value, 0);
}

/** Number of decimals `value` needs (float noise aside), at most 12. */
export function decimalsOf(value: number): number {
  for (let decimals = 0; decimals < 12; decimals++) if (isAtDecimals(value, decimals)) return decimals;
  return 12;
}

/**
 * `value` as the decimal string Alpaca expects, with at most `maxDecimals` decimals and no trailing
 * zeros (12.5 → "12.5", 3 → "3"). Throws RangeError for a non-finite value or one that needs more
 * decimals; `what` names the field in the message.
 */
export function toDecimalString(value: number, maxDecimals: number, what: string): string {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
  if (Math.abs(value) >= 1e15) throw new RangeError(`${what} ${value} is out of range`);
  if (!isAtDecimals(value, maxDecimals)) {
    throw new RangeError(`${what} ${value} has more than ${maxDecimals} decimal${maxDecimals === 1 ? '' : 's'}: round it first`);
  }
  const fixed = roundTo(value, maxDecimals).toFixed(maxDecimals);
  const trimmed = fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
  return trimmed === '-0' ? '0' : trimmed;
}
