/**
 * Whether the council beat the individual PMs over a multi-week backtest, with an honest interval
 * rather than a point estimate. Pure: the caller gives the weekly returns and the maximum drawdowns.
 *
 * Definitions (returns and differences are fractions, not rounded; the sentence shows basis points,
 * 1 bp = 1e-4):
 *  - For each individual, and for the individuals' mean (the per-week mean of the individuals'
 *    returns), d_t = council_t − other_t for every week t.
 *  - mean_diff = the mean of d_t; share_of_weeks_won = the share of weeks with council_t > other_t
 *    strictly (a tie is not a win).
 *  - ci_low / ci_high: a 95% percentile interval (2.5th and 97.5th percentiles, linear interpolation
 *    between order statistics as numpy's default) of the mean of d over `resamples` circular moving
 *    block bootstrap resamples: each resample concatenates blocks of `blockLength` consecutive weeks,
 *    each starting at a uniformly drawn week and wrapping from the last week to the first, until it
 *    has as many weeks as the original (the last block cut short). Blocks keep a few weeks of
 *    autocorrelation together, which resampling single weeks would destroy and so understate the
 *    interval. A seeded mulberry32 makes the draw reproducible; every comparison replays the same
 *    draw, so all intervals come from the same resampled weeks.
 *  - A resample's mean is summed over the original week order weighted by how often each week was
 *    drawn: it then depends only on which weeks were drawn, so a resample holding every week once
 *    (a rotation) gives bit for bit the point estimate, and a constant d gives exactly that constant.
 *  - distinguishable_from_zero: the interval excludes 0 (ci_low > 0 or ci_high < 0).
 *  - No interval with fewer than MIN_BLOCKS_FOR_INTERVAL blocks' worth of weeks (20 with 4-week
 *    blocks): ci_low and ci_high are null and the difference is not distinguishable from zero. With
 *    one block or less every resample is a rotation of the same weeks and the interval collapses to
 *    the point estimate, which would read as certainty ("distinguishable from zero" after 4 weeks);
 *    with a few blocks the resamples are a handful of rearrangements of the same weeks, and the
 *    interval is far too narrow. The mean difference and the share of weeks won are still given.
 *    With no weeks, mean_diff and the share are null too.
 *  - drawdown_below_individuals_mean: councilMaxDrawdown < the mean of the individuals' maximum
 *    drawdowns (positive fractions, as performanceStats gives them).
 */

export interface VerdictInput {
  /** Week labels (e.g. the week-end dates), one per weekly return. */
  weeks: readonly string[];
  /** The council's weekly returns, aligned with `weeks`. */
  council: readonly number[];
  /** Each individual PM's weekly returns (by owner), aligned with `weeks`. */
  individuals: ReadonlyMap<string, readonly number[]>;
  /** The council's maximum drawdown over the run, a positive fraction. */
  councilMaxDrawdown: number;
  /** Each individual's maximum drawdown, by the same owners as `individuals`. */
  individualsMaxDrawdown: ReadonlyMap<string, number>;
  /** Weeks per bootstrap block; 4 by default. */
  blockLength?: number;
  /** Bootstrap resamples; 10 000 by default. */
  resamples?: number;
  /** PRNG seed; 1 by default. */
  seed?: number;
}

export interface Comparison {
  /** Mean of council − other, a fraction per week; null with no weeks. */
  mean_diff: number | null;
  ci_low: number | null;
  ci_high: number | null;
  /** Share of weeks where the council's return was strictly higher; null with no weeks. */
  share_of_weeks_won: number | null;
  weeks: number;
  distinguishable_from_zero: boolean;
}

export interface CouncilVerdict {
  weeks: number;
  first_week: string | null;
  last_week: string | null;
  block_length: number;
  /** The fewest weeks that get an interval: MIN_BLOCKS_FOR_INTERVAL × block_length. */
  min_weeks_for_interval: number;
  resamples: number;
  seed: number;
  confidence: 0.95;
  /** Council against the per-week mean of the individuals. */
  vs_individuals_mean: Comparison;
  /** Council against each individual, in the order of `individuals`. */
  vs_individuals: ({ owner: string } & Comparison)[];
  council_max_drawdown: number;
  individuals_mean_max_drawdown: number;
  drawdown_below_individuals_mean: boolean;
  sentence: string;
}

export const DEFAULT_BLOCK_LENGTH = 4;
export const DEFAULT_RESAMPLES = 10_000;
export const DEFAULT_SEED = 1;
/** Blocks' worth of weeks below which no interval is given (see the header). */
export const MIN_BLOCKS_FOR_INTERVAL = 5;

export function councilVerdict(input: VerdictInput): CouncilVerdict {
  const blockLength = input.blockLength ?? DEFAULT_BLOCK_LENGTH;
  const resamples = input.resamples ?? DEFAULT_RESAMPLES;
  const seed = input.seed ?? DEFAULT_SEED;
  assertInput(input, blockLength, resamples, seed);

  const individualsMean = input.weeks.map((_, t) => mean([...input.individuals.values()].map((returns) => returns[t] as number)));
  const options = { blockLength, resamples, seed, minWeeks: MIN_BLOCKS_FOR_INTERVAL * blockLength };
  const vsMean = compare(input.council, individualsMean, options);
  const drawdowns = [...input.individualsMaxDrawdown.values()];
  const individualsMeanDrawdown = mean(drawdowns);

  return {
    weeks: input.weeks.length,
    first_week: input.weeks[0] ?? null,
    last_week: input.weeks.at(-1) ?? null,
    block_length: blockLength,
    min_weeks_for_interval: options.minWeeks,
    resamples,
    seed,
    confidence: 0.95,
    vs_individuals_mean: vsMean,
    vs_individuals: [...input.individuals].map(([owner, returns]) => ({ owner, ...compare(input.council, returns, options) })),
    council_max_drawdown: input.councilMaxDrawdown,
    individuals_mean_max_drawdown: individualsMeanDrawdown,
    drawdown_below_individuals_mean: input.councilMaxDrawdown < individualsMeanDrawdown,
    sentence: verdictSentence(vsMean, options),
  };
}

export interface BootstrapOptions {
  blockLength: number;
  resamples: number;
  seed: number;
}

/**
 * The council against one other series of weekly returns (same length); the interval only from
 * `minWeeks` weeks on.
 */
export function compare(
  council: readonly number[],
  other: readonly number[],
  options: BootstrapOptions & { minWeeks: number },
): Comparison {
  const diffs = council.map((c, t) => c - (other[t] as number));
  if (diffs.length === 0)
    return { mean_diff: null, ci_low: null, ci_high: null, share_of_weeks_won: null, weeks: 0, distinguishable_from_zero: false };
  const point = {
    mean_diff: weightedMean(diffs, new Uint32Array(diffs.length).fill(1)),
    share_of_weeks_won: council.filter((c, t) => c > (other[t] as number)).length / diffs.length,
    weeks: diffs.length,
  };
  if (diffs.length < options.minWeeks) return { ...point, ci_low: null, ci_high: null, distinguishable_from_zero: false };
  const means = blockBootstrapMeans(diffs, options).sort((a, b) => a - b);
  const ciLow = percentile(means, 0.025);
  const ciHigh = percentile(means, 0.975);
  return { ...point, ci_low: ciLow, ci_high: ciHigh, distinguishable_from_zero: ciLow > 0 || ciHigh < 0 };
}

/** The mean of each circular moving block bootstrap resample of xs (see the header). */
export function blockBootstrapMeans(xs: readonly number[], { blockLength, resamples, seed }: BootstrapOptions): number[] {
  const n = xs.length;
  const random = mulberry32(seed);
  const counts = new Uint32Array(n);
  const means: number[] = [];
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    let drawn = 0;
    while (drawn < n) {
      const start = Math.floor(random() * n);
      for (let k = 0; k < blockLength && drawn < n; k++, drawn++) {
        const week = (start + k) % n;
        counts[week] = (counts[week] as number) + 1;
      }
    }
    means.push(weightedMean(xs, counts));
  }
  return means;
}

/**
 * Σ counts_i × xs_i / Σ counts_i, summed in the original order so the result depends only on how
 * often each value was drawn, not on the order of the draw.
 */
function weightedMean(xs: readonly number[], counts: Uint32Array): number {
  let sum = 0;
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    const c = counts[i] as number;
    if (c === 0) continue;
    sum += c * (xs[i] as number);
    total += c;
  }
  return sum / total;
}

/** The p-quantile of ascending values, interpolating linearly between order statistics (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('a percentile of nothing');
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  // a === b short-cuts the interpolation so a collapsed distribution gives its value exactly.
  return a === b ? a : a + (h - lo) * (b - a);
}

/** mulberry32: a small, fast 32-bit PRNG, uniform in [0, 1); good enough for resampling, not for secrets. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One plain sentence on the council against the PMs' mean, in basis points. */
export function verdictSentence(c: Comparison, bootstrap: { blockLength: number; minWeeks: number }): string {
  if (c.weeks === 0 || c.mean_diff === null)
    return "no weeks to compare: the council's weekly return cannot yet be set against the PMs' mean";
  const verb = c.mean_diff > 0 ? "exceeded the PMs' mean by" : c.mean_diff < 0 ? "trailed the PMs' mean by" : "equalled the PMs' mean,";
  const amount = c.mean_diff === 0 ? 'a difference of 0.0 bp' : `${bp(Math.abs(c.mean_diff))} bp`;
  const weeks = c.weeks === 1 ? '1 week' : `${c.weeks} weeks`;
  if (c.ci_low === null || c.ci_high === null)
    return `over ${weeks} the council's weekly return ${verb} ${amount}: too few weeks to tell (a 95% interval from ${bootstrap.blockLength}-week blocks needs at least ${bootstrap.minWeeks} weeks)`;
  const verdict = c.distinguishable_from_zero ? 'distinguishable from zero' : 'not distinguishable from zero';
  return `over ${weeks} the council's weekly return ${verb} ${amount}, 95% CI [${bp(c.ci_low)}, ${bp(c.ci_high)}] bp: ${verdict}`;
}

/** A fraction in basis points with one decimal, never "-0.0". */
function bp(x: number): string {
  const text = (x * 10_000).toFixed(1);
  return text === '-0.0' ? '0.0' : text;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function assertInput(input: VerdictInput, blockLength: number, resamples: number, seed: number): void {
  const n = input.weeks.length;
  if (!(Number.isInteger(blockLength) && blockLength >= 1)) throw new Error(`blockLength must be a positive integer, got ${blockLength}`);
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new Error(`resamples must be a positive integer, got ${resamples}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (input.individuals.size === 0) throw new Error('the council needs at least one individual to be compared with');
  const series: [string, readonly number[]][] = [['the council', input.council], ...input.individuals];
  for (const [owner, returns] of series) {
    if (returns.length !== n) throw new Error(`${owner} has ${returns.length} weekly returns for ${n} weeks`);
    if (!returns.every(Number.isFinite)) throw new Error(`${owner} has a weekly return that is not a finite number`);
  }
  // The drawdown comparison is of the same PMs as the returns: a missing or extra owner would
  // silently change the mean it is compared with.
  const owners = [...input.individuals.keys()].sort().join(',');
  const drawdownOwners = [...input.individualsMaxDrawdown.keys()].sort().join(',');
  if (owners !== drawdownOwners) throw new Error(`drawdowns are for [${drawdownOwners}], returns for [${owners}]`);
  const drawdowns = [input.councilMaxDrawdown, ...input.individualsMaxDrawdown.values()];
  if (!drawdowns.every((d) => Number.isFinite(d) && d >= 0)) throw new Error('maximum drawdowns must be non-negative fractions');
}
