import { describe, expect, it } from 'vitest';
import { roundCash, roundPrice, roundTo } from './money.js';

describe('money rounding', () => {
  it('rounds halves away from zero on the printed decimal value', () => {
    expect(1.005 * 100).toBeLessThan(100.5); // why naive rounding fails
    expect(roundCash(1.005)).toBe(1.01);
    expect(roundCash(-1.005)).toBe(-1.01);
    expect(roundCash(2.345)).toBe(2.35);
    expect(roundCash(2.344999)).toBe(2.34);
  });

  it('removes binary noise and keeps 6 decimals for prices', () => {
    expect(roundCash(0.1 + 0.2)).toBe(0.3);
    expect(roundPrice(123.456789 * 1.0002)).toBe(123.48148);
    expect(roundPrice(1e-7)).toBe(0);
    expect(Object.is(roundCash(-0.001), 0)).toBe(true);
  });

  it('leaves integers and huge numbers alone and refuses non-finite input', () => {
    expect(roundTo(100_000, 2)).toBe(100_000);
    expect(roundTo(1e16, 2)).toBe(1e16);
    expect(() => roundCash(Number.NaN)).toThrow(RangeError);
  });

  it('gives what the decimal shift gives, for amounts of every size and near halves (the fast path changes nothing)', () => {
    // The reference: the shortest decimal form, shifted, rounded half away from zero.
    const reference = (value: number, decimals: number) => {
      const [mantissa, exponent] = Math.abs(value).toExponential().split('e') as [string, string];
      const rounded = Number(`${Math.round(Number(`${mantissa}e${Number(exponent) + decimals}`))}e-${decimals}`);
      return Math.sign(value) * rounded || 0;
    };
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const magnitude = 10 ** (random() * 14 - 6);
      values.push((random() < 0.5 ? -1 : 1) * magnitude);
      // Exact and near halves at cents and at 6 decimals: 12.345, 12.3450000001, 0.0000005, …
      const cents = Math.floor(random() * 1e6) + 0.5;
      values.push(cents / 100, (cents + 1e-7) / 100, (cents - 1e-7) / 100, cents / 1e6);
    }
    const differ = values.flatMap((value) =>
      [2, 6].flatMap((decimals) => (roundTo(value, decimals) === reference(value, decimals) ? [] : [{ value, decimals }])),
    );
    expect(values.length).toBe(100_000);
    expect(differ).toEqual([]);
  });
});
