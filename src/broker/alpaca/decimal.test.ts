import { describe, expect, it } from 'vitest';
import { decimal, decimalsOf, isWhole, optionalDecimal, parseDecimal, toDecimalString } from './decimal.js';

describe('Alpaca decimals in', () => {
  it('parses decimal strings and JSON numbers once, at the boundary', () => {
    expect(decimal.parse('123346.11')).toBe(123346.11);
    expect(decimal.parse('-10')).toBe(-10);
    expect(decimal.parse('0.000001')).toBe(0.000001);
    expect(decimal.parse('122011.09751111286868')).toBeCloseTo(122011.0975111, 6);
    expect(decimal.parse(0)).toBe(0);
    expect(optionalDecimal.parse(null)).toBeNull();
    expect(optionalDecimal.parse(undefined)).toBeNull();
  });

  it('refuses what is not a plain decimal, so NaN never reaches the books', () => {
    for (const bad of ['', 'NaN', '1,000', '1e5', 'abc', ' ', '--1']) {
      expect(parseDecimal(bad), bad).toBeNull();
      expect(decimal.safeParse(bad).success, bad).toBe(false);
    }
    expect(parseDecimal(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('Alpaca decimals out', () => {
  it('formats without exponents or trailing zeros', () => {
    expect(toDecimalString(3, 9, 'qty')).toBe('3');
    expect(toDecimalString(12.5, 9, 'qty')).toBe('12.5');
    expect(toDecimalString(0.0000001, 9, 'qty')).toBe('0.0000001');
    expect(toDecimalString(1234.56, 2, 'notional')).toBe('1234.56');
    expect(toDecimalString(0.1 + 0.2, 2, 'notional')).toBe('0.3');
    expect(toDecimalString(-0, 2, 'x')).toBe('0');
  });

  it('refuses to round: a changed quantity would be a different order', () => {
    expect(() => toDecimalString(1.005, 2, 'notional')).toThrow(/more than 2 decimals/);
    expect(() => toDecimalString(Number.NaN, 2, 'notional')).toThrow(/finite/);
  });

  it('tells whole numbers and decimals apart despite float noise', () => {
    expect(isWhole(10)).toBe(true);
    expect(isWhole(0.1 * 30)).toBe(true);
    expect(isWhole(10.5)).toBe(false);
    expect(decimalsOf(0.123)).toBe(3);
    expect(decimalsOf(0.1 + 0.2)).toBe(1);
  });
});
