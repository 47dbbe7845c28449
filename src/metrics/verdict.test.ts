import { describe, expect, it } from 'vitest';
import { blockBootstrapMeans, councilVerdict, mulberry32, percentile, type VerdictInput } from './verdict.js';

const OWNERS = ['alpha', 'bravo', 'charlie'];
const weekLabels = (n: number) => Array.from({ length: n }, (_, i) => `W${String(i + 1).padStart(3, '0')}`);

/** Input with the given council and individuals' returns, and drawdowns 0.1 for the council, 0.2 for each PM. */
function input(council: readonly number[], individuals: readonly (readonly number[])[], extra: Partial<VerdictInput> = {}): VerdictInput {
  const owners = individuals.map((_, i) => OWNERS[i] ?? `pm${i}`);
  return {
    weeks: weekLabels(council.length),
    council,
    individuals: new Map(owners.map((owner, i) => [owner, individuals[i] as readonly number[]])),
    councilMaxDrawdown: 0.1,
    individualsMaxDrawdown: new Map(owners.map((owner) => [owner, 0.2])),
    ...extra,
  };
}

/** Noisy weekly returns (about ±3%) from a seeded generator, so the data are fixed across runs. */
function noisy(n: number, seed: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => (random() - 0.5) * 0.06);
}

describe('councilVerdict: reproducibility', () => {
  const data = input(noisy(120, 11), [noisy(120, 12), noisy(120, 13), noisy(120, 14)], { resamples: 2_000 });

  it('gives the same output twice for the same seed', () => {
    expect(councilVerdict(data)).toEqual(councilVerdict(data));
  });

  it('a different seed moves the interval but not the mean', () => {
    const one = councilVerdict({ ...data, seed: 1 });
    const two = councilVerdict({ ...data, seed: 2 });
    expect(two.vs_individuals_mean.mean_diff).toBe(one.vs_individuals_mean.mean_diff);
    expect(two.vs_individuals_mean.ci_low).not.toBe(one.vs_individuals_mean.ci_low);
    expect(two.vs_individuals_mean.ci_high).not.toBe(one.vs_individuals_mean.ci_high);
    expect(two.seed).toBe(2);
  });

  it('states the bootstrap settings, defaulting to 4-week blocks, 10 000 resamples and seed 1', () => {
    const verdict = councilVerdict({ ...data, resamples: undefined });
    expect(verdict).toMatchObject({
      weeks: 120,
      first_week: 'W001',
      last_week: 'W120',
      block_length: 4,
      min_weeks_for_interval: 20,
      resamples: 10_000,
      seed: 1,
    });
  });

  it('the mean comparison is against the per-week mean of the individuals', () => {
    // Council 0.01, 0.02; PMs (0, 0.03) and (0.02, −0.01): per-week means 0.01 and 0.01, so d = 0, 0.01
    // and mean_diff = 0.005; the council won week 2 only (week 1 is a tie): share 0.5.
    const verdict = councilVerdict(
      input(
        [0.01, 0.02],
        [
          [0, 0.02],
          [0.02, 0],
        ],
      ),
    );
    expect(verdict.vs_individuals_mean.mean_diff).toBeCloseTo(0.005, 15);
    expect(verdict.vs_individuals_mean.share_of_weeks_won).toBe(0.5);
    // Against alpha: d = 0.01, 0 (won 1 of 2); against bravo: d = −0.01, 0.02 (won 1 of 2).
    expect(verdict.vs_individuals.map((c) => c.owner)).toEqual(['alpha', 'bravo']);
    expect(verdict.vs_individuals[0]?.mean_diff).toBeCloseTo(0.005, 15);
    expect(verdict.vs_individuals[1]?.mean_diff).toBeCloseTo(0.005, 15);
    expect(verdict.vs_individuals.map((c) => c.share_of_weeks_won)).toEqual([0.5, 0.5]);
  });
});

describe('councilVerdict: constructed cases', () => {
  it('a council that always beats by 0.001 is 10 bp ahead with a zero-width interval', () => {
    // The PMs' returns are multiples of 2⁻¹⁰ and identical, so their mean is exact; council = PM + 0.001,
    // so every d_t is 0.001 up to the last bit of one addition and one subtraction.
    const pm = Array.from({ length: 20 }, (_, t) => ((t % 7) - 3) / 1024);
    const council = pm.map((x) => x + 0.001);
    const verdict = councilVerdict(input(council, [pm, pm, pm]));
    const vs = verdict.vs_individuals_mean;
    expect((vs.mean_diff as number) * 1e4).toBeCloseTo(10, 10);
    expect((vs.ci_low as number) * 1e4).toBeCloseTo(10, 10);
    expect((vs.ci_high as number) * 1e4).toBeCloseTo(10, 10);
    expect(vs.share_of_weeks_won).toBe(1);
    expect(vs.distinguishable_from_zero).toBe(true);
    expect(verdict.sentence).toBe(
      "over 20 weeks the council's weekly return exceeded the PMs' mean by 10.0 bp, 95% CI [10.0, 10.0] bp: distinguishable from zero",
    );
  });

  it('an alternating zero-mean difference: the interval contains 0', () => {
    // d = +0.01, −0.01, … over 51 weeks (odd, so 4-week blocks do not always cancel): the mean is
    // 0.01 / 51 (one more +0.01), about 2 bp, and the interval straddles 0.
    const council = Array.from({ length: 51 }, (_, t) => (t % 2 === 0 ? 0.01 : -0.01));
    const zero = council.map(() => 0);
    for (const blockLength of [1, 4]) {
      const vs = councilVerdict(input(council, [zero], { blockLength })).vs_individuals_mean;
      expect(vs.mean_diff).toBeCloseTo(0.01 / 51, 15);
      expect(vs.ci_low as number).toBeLessThan(0);
      expect(vs.ci_high as number).toBeGreaterThan(0);
      expect(vs.distinguishable_from_zero).toBe(false);
    }
    const verdict = councilVerdict(input(council, [zero]));
    expect(verdict.sentence).toMatch(
      /^over 51 weeks the council's weekly return exceeded the PMs' mean by 2\.0 bp, 95% CI \[-\d+\.\d, \d+\.\d\] bp: not distinguishable from zero$/,
    );
  });

  it('a council that trails says so, with the interval signed', () => {
    // d = −0.002 every week, except +0.001 in two weeks of 20: mean = (−0.036 + 0.002) / 20 = −17 bp.
    const council = Array.from({ length: 20 }, (_, t) => (t === 3 || t === 13 ? 0.001 : -0.002));
    const verdict = councilVerdict(input(council, [council.map(() => 0)]));
    expect((verdict.vs_individuals_mean.mean_diff as number) * 1e4).toBeCloseTo(-17, 10);
    expect(verdict.vs_individuals_mean.share_of_weeks_won).toBe(0.1);
    expect(verdict.sentence).toMatch(
      /^over 20 weeks the council's weekly return trailed the PMs' mean by 17\.0 bp, 95% CI \[-\d+\.\d, -\d+\.\d\] bp/,
    );
  });

  it('identical series: mean 0, interval [0, 0], no week won', () => {
    const pm = noisy(30, 5);
    const verdict = councilVerdict(input(pm, [pm, pm]));
    expect(verdict.vs_individuals_mean).toEqual({
      mean_diff: 0,
      ci_low: 0,
      ci_high: 0,
      share_of_weeks_won: 0,
      weeks: 30,
      distinguishable_from_zero: false,
    });
    expect(verdict.sentence).toBe(
      "over 30 weeks the council's weekly return equalled the PMs' mean, a difference of 0.0 bp, 95% CI [0.0, 0.0] bp: not distinguishable from zero",
    );
  });

  it('fewer weeks than five blocks: the mean and the share, but no interval, and never "distinguishable"', () => {
    // Four weeks of d = +0.002 (one block): every resample would be a rotation of the same weeks, an
    // interval of zero width around 20 bp that reads as certainty.
    const four = councilVerdict(input([0.003, 0.003, 0.003, 0.003], [[0.001, 0.001, 0.001, 0.001]]));
    expect(four.min_weeks_for_interval).toBe(20);
    expect(four.vs_individuals_mean).toEqual({
      mean_diff: expect.closeTo(0.002, 15) as unknown,
      ci_low: null,
      ci_high: null,
      share_of_weeks_won: 1,
      weeks: 4,
      distinguishable_from_zero: false,
    });
    expect(four.vs_individuals.every((c) => c.ci_low === null && !c.distinguishable_from_zero)).toBe(true);
    expect(four.sentence).toBe(
      "over 4 weeks the council's weekly return exceeded the PMs' mean by 20.0 bp: too few weeks to tell (a 95% interval from 4-week blocks needs at least 20 weeks)",
    );
    // One week; and the threshold: 19 weeks of 4-week blocks get no interval, 20 do; with 1-week blocks, 4 and 5.
    expect(councilVerdict(input([0.03], [[0.01]])).sentence).toMatch(
      /^over 1 week the council's weekly return exceeded the PMs' mean by 200\.0 bp: too few weeks/,
    );
    const noisyInput = (n: number, blockLength: number) => input(noisy(n, 31), [noisy(n, 32)], { blockLength, resamples: 200 });
    expect(councilVerdict(noisyInput(19, 4)).vs_individuals_mean.ci_low).toBeNull();
    expect(councilVerdict(noisyInput(20, 4)).vs_individuals_mean.ci_low).toEqual(expect.any(Number));
    expect(councilVerdict(noisyInput(4, 1)).vs_individuals_mean.ci_low).toBeNull();
    expect(councilVerdict(noisyInput(5, 1)).vs_individuals_mean.ci_low).toEqual(expect.any(Number));
  });

  it('no weeks: nothing to compare, and the sentence says so', () => {
    const verdict = councilVerdict(input([], [[], []]));
    expect(verdict.weeks).toBe(0);
    expect(verdict.first_week).toBeNull();
    expect(verdict.vs_individuals_mean).toEqual({
      mean_diff: null,
      ci_low: null,
      ci_high: null,
      share_of_weeks_won: null,
      weeks: 0,
      distinguishable_from_zero: false,
    });
    expect(verdict.sentence).toMatch(/^no weeks to compare/);
  });
});

describe('the block bootstrap', () => {
  it('blocks as long as the series: every resample is a rotation, so its mean is the point estimate', () => {
    const d = noisy(37, 21);
    const mean = d.reduce((s, x) => s + x, 0) / d.length;
    const rotations = blockBootstrapMeans(d, { blockLength: 37, resamples: 500, seed: 1 });
    // All equal, bit for bit: a resample's mean is summed in the original week order.
    expect(new Set(rotations).size).toBe(1);
    expect(rotations[0]).toBeCloseTo(mean, 15);
    // The same data resampled week by week does spread.
    const iid = blockBootstrapMeans(d, { blockLength: 1, resamples: 500, seed: 1 });
    expect(Math.max(...iid)).toBeGreaterThan(Math.min(...iid));
  });

  it('blocks keep runs together: a persistent difference gets a wider interval than week-by-week resampling', () => {
    // d = +0.01 for 26 weeks then −0.01 for 26: week-by-week draws mix the signs and the mean stays
    // near 0; 13-week blocks draw mostly one sign at a time, so the mean swings further.
    const d = Array.from({ length: 52 }, (_, t) => (t < 26 ? 0.01 : -0.01));
    const width = (blockLength: number) => {
      const means = blockBootstrapMeans(d, { blockLength, resamples: 4_000, seed: 3 }).sort((a, b) => a - b);
      return percentile(means, 0.975) - percentile(means, 0.025);
    };
    expect(width(13)).toBeGreaterThan(2 * width(1));
  });

  it('percentile interpolates linearly between order statistics, as numpy does', () => {
    // numpy.percentile([1, 2, 3, 4], 2.5) = 1 + 0.075 × (2 − 1) = 1.075; at 97.5: h = 3 × 0.975 = 2.925 → 3.925.
    expect(percentile([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 15);
    expect(percentile([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 15);
    expect(percentile([5], 0.025)).toBe(5);
  });

  it('mulberry32 is deterministic per seed and uniform in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(draws);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    // Mean of 10 000 uniforms: 0.5 ± 0.0029 (1/√12 / 100); 0.01 is more than three of those.
    expect(Math.abs(draws.reduce((s, x) => s + x, 0) / draws.length - 0.5)).toBeLessThan(0.01);
  });
});

describe('drawdown and validation', () => {
  it('compares the council’s maximum drawdown with the individuals’ mean', () => {
    const base = input([0.01], [[0], [0]]);
    // PMs 0.2 and 0.2 → mean 0.2; council 0.1 < 0.2.
    expect(councilVerdict(base)).toMatchObject({
      council_max_drawdown: 0.1,
      individuals_mean_max_drawdown: 0.2,
      drawdown_below_individuals_mean: true,
    });
    // PMs 0.05 and 0.15 → mean 0.1; council 0.1 is not below it.
    const equal = councilVerdict({
      ...base,
      individualsMaxDrawdown: new Map([
        ['alpha', 0.05],
        ['bravo', 0.15],
      ]),
    });
    expect(equal.individuals_mean_max_drawdown).toBeCloseTo(0.1, 15);
    expect(equal.drawdown_below_individuals_mean).toBe(false);
  });

  it('refuses misaligned or incomplete input', () => {
    expect(() => councilVerdict(input([0.01, 0.02], [[0]]))).toThrow(/alpha has 1 weekly returns for 2 weeks/);
    expect(() => councilVerdict({ ...input([0.01], [[0]]), weeks: ['W1', 'W2'] })).toThrow(/the council has 1/);
    expect(() => councilVerdict(input([0.01], []))).toThrow(/at least one individual/);
    expect(() => councilVerdict({ ...input([0.01], [[0]]), individualsMaxDrawdown: new Map([['zulu', 0.1]]) })).toThrow(
      /drawdowns are for/,
    );
    expect(() => councilVerdict(input([Number.NaN], [[0]]))).toThrow(/finite/);
    expect(() => councilVerdict(input([0.01], [[0]], { blockLength: 0 }))).toThrow(/blockLength/);
    expect(() => councilVerdict(input([0.01], [[0]], { resamples: 1.5 }))).toThrow(/resamples/);
  });
});
