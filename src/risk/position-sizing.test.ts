import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { sizePosition, type SizingInput } from './position-sizing.js';

const risk = {
  starting_cash: 100_000,
  max_gross_exposure: 1,
  max_position: 1,
  target_daily_vol: 0.01,
  conviction_scale: { '1': 0.5, '2': 1 },
  on_seat_failure: 'flat' as const,
  reduce_fraction: 0.5,
};
const size = (over: Partial<SizingInput>) =>
  sizePosition({ direction: 'LONG', conviction: 2, price: 500, dailyVol: 0.008, equity: 100_000, risk, ...over });

describe('sizePosition', () => {
  it('FLAT holds nothing', () => {
    expect(size({ direction: 'FLAT', conviction: 0 })).toEqual({ targetQty: 0, weight: 0, notes: 'FLAT: no position' });
  });

  it('full conviction in a calm instrument uses the whole account, never levered up', () => {
    // target 1% / daily 0.8% = 1.25 → min(1, 1.25) = 1
    const r = size({});
    expect(r.weight).toBe(1);
    expect(r.targetQty).toBe(200); // 100 000 / 500
    expect(r.notes).toContain('conviction 2 → scale 1');
    expect(r.notes).toContain('vol: target 1% / daily 0.8% → ×1');
  });

  it('scales down by volatility and by conviction', () => {
    // 0.5 × (0.01 / 0.025 = 0.4) = 0.2 → 20 000 / 37 = 540.5 → 540 shares short
    const r = size({ direction: 'SHORT', conviction: -1, price: 37, dailyVol: 0.025 });
    expect(r.weight).toBeCloseTo(0.2, 12);
    expect(r.targetQty).toBe(-540);
    expect(r.notes).toContain('×0.4');
    expect(r.notes).toContain('540 shares SHORT');
  });

  it('caps the weight by max_position, then by max_gross_exposure', () => {
    const capped = size({ risk: { ...risk, max_position: 0.3 } });
    expect(capped.weight).toBe(0.3);
    expect(capped.targetQty).toBe(60);
    expect(capped.notes).toContain('capped by max_position 1 → 0.3');

    const gross = size({ risk: { ...risk, max_gross_exposure: 0.25 } });
    expect(gross.weight).toBe(0.25);
    expect(gross.targetQty).toBe(50);
    expect(gross.notes).toContain('capped by max_gross_exposure 1 → 0.25');
  });

  it('rounds down to whole shares, including for longs', () => {
    expect(size({ price: 333 }).targetQty).toBe(300); // 100 000 / 333 = 300.3
    expect(size({ price: 100_001 }).targetQty).toBe(0);
  });

  it('applies no vol scaling when the volatility is unknown, and says so', () => {
    const r = size({ dailyVol: null, conviction: 1 });
    expect(r.weight).toBe(0.5);
    expect(r.notes).toContain('vol: unknown');
  });

  it('holds nothing when equity is gone', () => {
    expect(size({ equity: -5 }).targetQty).toBe(0);
  });

  it('refuses inconsistent inputs', () => {
    expect(() => size({ direction: 'LONG', conviction: -1 })).toThrow(/does not match/);
    expect(() => size({ direction: 'SHORT', conviction: 0 })).toThrow(/does not match/);
    expect(() => size({ conviction: 3 })).toThrow(/−2..\+2/);
    expect(() => size({ price: 0 })).toThrow(/price/);
  });

  it('works with the shipped config', () => {
    const r = sizePosition({
      direction: 'LONG',
      conviction: 1,
      price: 90,
      dailyVol: 0.01,
      equity: 100_000,
      risk: loadConfig().models.risk,
    });
    expect(r.targetQty).toBe(555); // 0.5 × 1 × 100 000 / 90 = 555.6
  });
});
