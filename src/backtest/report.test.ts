import { describe, expect, it } from 'vitest';
import { distributionPaid, distributionYield } from './report.js';

describe('distributionYield: what an ETF paid a year, from its closes and adjusted closes', () => {
  it('is the adjusted close growth over the close growth, annualized over 252 sessions', () => {
    // A year of sessions (253 bars, 252 returns): the price ends where it began, the adjusted close
    // 2% higher (a distribution of 2% of the price, adjusted into every earlier close).
    const year = Array.from({ length: 253 }, (_, i) => ({ close: 100, adjClose: i < 126 ? 98 : 99.96 }));
    expect(distributionYield(year)).toBeCloseTo(99.96 / 98 - 1, 12);
    // Half a year with the same payout: about twice that a year.
    const half = year.slice(0, 127);
    expect(distributionYield(half)).toBeCloseTo((99.96 / 98) ** 2 - 1, 12);
    // The price moving does not count: only the adjusted close's growth over it.
    const moving = [
      { close: 50, adjClose: 49 },
      ...Array.from({ length: 251 }, () => ({ close: 60, adjClose: 58.8 })),
      { close: 75, adjClose: 75 },
    ];
    expect(distributionYield(moving)).toBeCloseTo(75 / 49 / (75 / 50) - 1, 12);
  });

  it('is zero for an ETF that pays nothing, and null without two bars', () => {
    expect(
      distributionYield([
        { close: 10, adjClose: 10 },
        { close: 12, adjClose: 12 },
      ]),
    ).toBe(0);
    expect(distributionYield([{ close: 10, adjClose: 10 }])).toBeNull();
    expect(distributionYield([])).toBeNull();
  });
});

describe('distributionPaid: what an ETF paid over the bars, not annualized', () => {
  it('is the adjusted close growth over the close growth (a yearly payout inside four weeks stays one payout)', () => {
    // 20 sessions, one distribution of 5% of the price on the 10th: 5% paid, not the ~90% a year annualizing gives.
    const month = Array.from({ length: 21 }, (_, i) => ({ close: 30, adjClose: i < 10 ? 28.5 : 30 }));
    expect(distributionPaid(month)).toBeCloseTo(30 / 28.5 - 1, 12);
    expect(distributionYield(month)).toBeGreaterThan(0.9);
    expect(distributionPaid([{ close: 10, adjClose: 10 }])).toBeNull();
  });
});
