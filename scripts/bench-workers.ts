/**
 * npm run bench (part): how a backtest with LLM seats scales with workers.
 *
 * A local stand-in (a worker thread, like a provider on another machine) answers every seat of every
 * week after an injected latency (decision calls BENCH_DECISION_MS, default 150 ms; checkpoint updates
 * BENCH_CHECKPOINT_MS, default 40 ms). BENCH_LLM_WEEKS weeks (default 8), one checkpoint a day;
 * BENCH_REPEAT rounds (default 3) of steps 1 and 2, the median ratio reported.
 *
 * 1. Calibration (per store): the same backtest strictly in sequence — each week's decisions, then its books — with
 *    every stage timed. From those durations the ideal with N workers is the makespan of a perfect
 *    schedule: decisions on N lanes in week order, the books on their own lane, a week's books starting
 *    when its decisions and the previous week's books are done (no overhead at all).
 *    On the job queue a books job also makes the decisions of a week no decide job has reached, so it
 *    can beat this ideal (one more lane); the figure is still the honest comparison.
 * 2. The backtest with 1, 2 and 4 workers (weeks deciding at once in the process, PGlite in memory;
 *    with BENCH_DATABASE_URL also as pg-boss jobs on a scratch PostgreSQL database), each on an empty
 *    store and cache, so every call goes to the stand-in. Reported: wall time / ideal (goal ≤ 1.15),
 *    and beside each run what explains an overhead: how busy the whole machine's CPU was (Linux; all
 *    processes, PostgreSQL's too: near 100% means no schedule could do better on this machine) and
 *    this process's event-loop delay (a lane ready to go on, waiting for the one main thread).
 * BENCH_STORE=pglite or BENCH_STORE=postgres measures only that one. Prints figures and exits 0; it
 * asserts nothing.
 *
 * The default latencies are short so the benchmark takes minutes: a decision's own CPU (prompts,
 * answers, call records, the database) is then about a third of its wall time, and lanes sharing the
 * one main thread slow each other, which the ideal does not count. Real models answer in seconds:
 * BENCH_DECISION_MS=1000 BENCH_CHECKPOINT_MS=250 is closer to them (README, stop 29 under "Benchmark").
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { openApp, type App } from '../src/app.js';
import { backtestPortfolio, bookWeek, decideWeek, openBacktest, weeksBetween } from '../src/backtest/backtest.js';
import { driveBacktest } from '../src/backtest/drive.js';
import { openJobQueue } from '../src/backtest/jobs.js';
import { loadConfig } from '../src/config/app-config.js';
import { parseEnv } from '../src/config/env.js';
import type { WeekInfo } from '../src/council/week.js';
import { openStore, type Store } from '../src/storage/db.js';
import { fastConfigDir } from '../tests/helpers/fast-config.js';
import { createScratchDatabase } from '../tests/helpers/stores.js';
import type { WorkersStandInSpec } from './bench-workers-stand-in.js';
import { machineSpeed } from './machine-speed.js';

const WEEKS = Number(process.env.BENCH_LLM_WEEKS ?? 8);
const DECISION_MS = Number(process.env.BENCH_DECISION_MS ?? 150);
const CHECKPOINT_MS = Number(process.env.BENCH_CHECKPOINT_MS ?? 40);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const WORKERS = [1, 2, 4];
const FROM = '2024-01-03';

const config = loadConfig();
const weeks = weeksBetween(config, FROM, weeksBetween(config, FROM, '2030-01-01')[WEEKS - 1]!.week_id);
const spec: WorkersStandInSpec = { weekIds: weeks.map((w) => w.week_id), decisionMs: DECISION_MS, checkpointMs: CHECKPOINT_MS };

const entry = new URL('./bench-workers-stand-in.ts', import.meta.url).href;
const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, {
  eval: true,
  workerData: spec,
});
const { url } = await new Promise<{ url: string }>((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
const configDir = fastConfigDir({ callDeadlineSeconds: 30, checkpoints: ['09:00'] });
const env = (databaseUrl?: string) =>
  parseEnv({
    LLM_TRADING_HOME: `${configDir}/home`,
    REQUESTY_API_KEY: 'bench-key',
    REQUESTY_BASE_URL: `${url}/v1`,
    PERPLEXITY_API_KEY: 'bench-key',
    PERPLEXITY_BASE_URL: url,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
const settings = { offline: false, allow_offline_seats: false };

async function appOn(store: Store, name: string, databaseUrl?: string): Promise<App> {
  return openApp(env(databaseUrl), loadConfig(configDir), { store, portfolio: backtestPortfolio(name), portfolioKind: 'backtest' });
}

/** Each week's decisions, then its books, one after the other: the stages' own durations. */
async function calibrate(open: Opener): Promise<{ decide: number[]; books: number[]; busyMs: number }> {
  const target = await open();
  const store = target.store;
  const app = await appOn(store, 'calibrate', target.databaseUrl);
  const row = await openBacktest(app, 'calibrate', weeks, settings);
  const decide: number[] = [];
  const books: number[] = [];
  const loop = performance.eventLoopUtilization();
  for (const [i, week] of weeks.entries()) {
    let t = performance.now();
    await decideWeek(app, week);
    decide.push(performance.now() - t);
    t = performance.now();
    await bookWeek(app, row.name, i, week);
    books.push(performance.now() - t);
  }
  // The main thread's busy time over the whole sequence: what any schedule in this one process must fit.
  const busyMs = performance.eventLoopUtilization(loop).active;
  await app.close();
  await store.close();
  await target.drop?.();
  return { decide, books, busyMs };
}

/** The makespan of a perfect schedule with `lanes` decision lanes and one books lane. */
function idealMs(decide: readonly number[], books: readonly number[], lanes: number): number {
  const laneFree = Array.from({ length: lanes }, () => 0);
  let booksEnd = 0;
  decide.forEach((d, i) => {
    const lane = laneFree.indexOf(Math.min(...laneFree));
    laneFree[lane] = (laneFree[lane] ?? 0) + d;
    booksEnd = Math.max(booksEnd, laneFree[lane] ?? 0) + (books[i] ?? 0);
  });
  return booksEnd;
}

type Opener = () => Promise<{ store: Store; databaseUrl?: string; drop?: () => Promise<void> }>;

/** The machine's CPU time counters (Linux: the first line of /proc/stat, in ticks); null elsewhere. */
function machineTicks(): { busy: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const ticks = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((s, x) => s + x, 0);
  // idle and iowait are the machine waiting; everything else (user, system, steal, …) is it busy.
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
}

interface Timed {
  ms: number;
  /** The share of the whole machine's CPU (every core, every process: PostgreSQL too) busy during the run. */
  machineBusy: number | null;
  /** This process's event-loop delay during the run: how long a ready continuation waited for the thread. */
  loopDelay: { p99Ms: number; maxMs: number };
}

async function timed(workers: number, open: Opener): Promise<Timed> {
  const target = await open();
  const name = `w${workers}`;
  const app = await appOn(target.store, name, target.databaseUrl);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const before = machineTicks();
  delay.enable();
  const t = performance.now();
  // The progress is read as `llm-trading backtest` reads it: when a job of its worker ends, else every 500 ms.
  await driveBacktest(app, name, weeks as WeekInfo[], { settings, workers });
  const ms = performance.now() - t;
  delay.disable();
  const after = machineTicks();
  await app.close();
  await target.store.close();
  await target.drop?.();
  return {
    ms,
    machineBusy: before && after ? (after.busy - before.busy) / Math.max(1, after.total - before.total) : null,
    loopDelay: { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 },
  };
}

/** Whether the run's overhead is the machine out of CPU or this thread busy when a lane was ready. */
const diagnosis = (run: Timed) =>
  `${run.machineBusy === null ? '' : `machine CPU ${(100 * run.machineBusy).toFixed(0)}% busy, `}event-loop delay p99 ${run.loopDelay.p99Ms.toFixed(1)} ms, max ${run.loopDelay.maxMs.toFixed(0)} ms`;

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
console.log(
  `\nbacktest with LLM seats: ${WEEKS} weeks, stand-in latency ${DECISION_MS} ms per decision call, ${CHECKPOINT_MS} ms per checkpoint update`,
);
console.log(`machine speed (scripts/machine-speed.ts): ${await machineSpeed()}`);
if (DECISION_MS < 1000)
  console.log(
    `  (at ${DECISION_MS} ms a decision's own CPU is a large share of its time, and lanes on one main thread compete for it; BENCH_DECISION_MS=1000 BENCH_CHECKPOINT_MS=250 is closer to real models)`,
  );

// BENCH_STORE=pglite or postgres: only that one.
const only = process.env.BENCH_STORE;
const stores: [string, Opener][] =
  only === 'postgres' ? [] : [['PGlite, in process', async () => ({ store: await openStore({ memory: true }) })]];
const adminUrl = process.env.BENCH_DATABASE_URL;
if (adminUrl && only !== 'pglite')
  stores.push([
    'PostgreSQL, pg-boss jobs',
    async () => {
      const scratch = await createScratchDatabase(adminUrl);
      // As `llm-trading backtest` opens it (a backtest's writes are replayable: storage/db.ts).
      const store = await openStore({ databaseUrl: scratch.url, replayableWrites: true });
      // The job queue's schema is installed once per database, as the app's migrations are (openStore,
      // also before the timer): a user's database has both after its first backtest. Installing it
      // took about 100 ms of each run's 4–6 s.
      const queue = await openJobQueue(scratch.url, config.schedule.jobs, (error) => console.error(`job queue: ${error.message}`));
      await queue.close();
      return { store, databaseUrl: scratch.url, drop: scratch.drop };
    },
  ]);
// The machine's noise (a shared 2-core VM: the same run varies by ±20%) is larger than the effect
// measured, so each store is measured REPEAT times, each time with a calibration of its own right
// before its runs, and the median ratio is the figure (with the range beside it).
for (const [label, open] of stores) {
  const ratios = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  const floors = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  for (let r = 1; r <= REPEAT; r++) {
    const { decide, books, busyMs } = await calibrate(open);
    console.log(
      `  ${label}, round ${r}/${REPEAT}: calibration (sequential): decisions ${(sum(decide) / 1000).toFixed(2)} s, books ${(sum(books) / 1000).toFixed(2)} s, total ${((sum(decide) + sum(books)) / 1000).toFixed(2)} s, main thread busy ${(busyMs / 1000).toFixed(2)} s`,
    );
    for (const workers of WORKERS) {
      const run = await timed(workers, open);
      const wall = run.ms;
      const ideal = idealMs(decide, books, workers);
      ratios.get(workers)?.push(wall / ideal);
      // The ideal lets lanes run side by side for free; in one process they share one main thread, so
      // no schedule beats its busy time: the ratio to the larger of the two says how much is overhead.
      const floor = Math.max(ideal, busyMs);
      floors.get(workers)?.push(wall / floor);
      console.log(
        `    ${workers} worker${workers === 1 ? ' ' : 's'}: wall ${(wall / 1000).toFixed(2)} s, ideal ${(ideal / 1000).toFixed(2)} s, wall / ideal ${(wall / ideal).toFixed(3)}; wall / max(ideal, main thread busy) ${(wall / floor).toFixed(3)}; ${diagnosis(run)}`,
      );
    }
  }
  for (const [workers, xs] of ratios)
    console.log(
      `  ${label}, ${workers} worker${workers === 1 ? ' ' : 's'}: wall / ideal median ${median(xs).toFixed(3)} (range ${Math.min(...xs).toFixed(3)}..${Math.max(...xs).toFixed(3)}, ${xs.length} rounds; goal <= 1.15); wall / max(ideal, main thread busy) median ${median(floors.get(workers) ?? []).toFixed(3)}`,
    );
}

worker.postMessage('close');
await new Promise((resolve) => worker.once('exit', resolve));
rmSync(configDir, { recursive: true, force: true });
