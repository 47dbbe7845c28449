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
});
