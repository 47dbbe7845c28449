/**
 * npm run bench (last part) — an offline backtest through the built CLI, as a user runs it:
 * `node dist/cli.js backtest --from F --to T --offline` on a new LLM_TRADING_HOME (the embedded
 * database), and, when BENCH_DATABASE_URL is set, on a scratch PostgreSQL database of that server too.
 * Prints the weeks, the wall and CPU seconds, weeks per second and the child's peak resident memory
 * (read by the child itself at exit). Goal for the whole bundled range on PGlite: ≤ 60 s, ≤ 400 MB.
 * Then what a week cost early in the run against late in it (weekCostGrowth): it should not grow.
 *
 *   BENCH_FROM   first decision Wednesday (default 2011-01-19, the first week the bundled data allows)
 *   BENCH_TO     last one (default 2025-06-18, the last complete week of the bundled data)
 *   BENCH_WEEKS  run only the first N weeks from BENCH_FROM
 *
 * Needs a build (`npm run build`). Prints figures and exits 0 unless a backtest fails; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { addDays } from '../src/market/calendar.js';
import { createScratchDatabase } from '../tests/helpers/stores.js';
import { machineSpeed } from './machine-speed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');

// Loaded into the child before the CLI: at exit, write its own CPU time and peak memory to a file
// (VmHWM: getrusage's maxRSS of a spawned child can start from its parent's resident size).
const REPORT_USAGE = `data:text/javascript,${encodeURIComponent(`
  import { readFileSync, writeFileSync } from 'node:fs';
  process.on('exit', () => {
    const u = process.resourceUsage();
    let maxRssKb = u.maxRSS;
    try {
      maxRssKb = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    } catch {}
    writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({ cpuUs: u.userCPUTime + u.systemCPUTime, maxRssKb }));
  });
`)}`;

function range(): { from: string; to: string; weeks: number } {
  const from = process.env.BENCH_FROM ?? '2011-01-19';
  let to = process.env.BENCH_TO ?? '2025-06-18';
  const limit = process.env.BENCH_WEEKS ? Number(process.env.BENCH_WEEKS) : undefined;
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`BENCH_WEEKS must be a positive integer, got ${process.env.BENCH_WEEKS}`);
    const last = addDays(from, 7 * (limit - 1));
    if (last < to) to = last;
  }
  let weeks = 0;
  for (let w = from; w <= to; w = addDays(w, 7)) weeks++;
  return { from, to, weeks };
}

async function backtest(name: string, from: string, to: string, weeks: number, env: Record<string, string>): Promise<boolean> {
  const scratch = mkdtempSync(join(tmpdir(), 'lt-bench-backtest-'));
  const usageFile = join(scratch, 'usage.json');
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', REPORT_USAGE, CLI, 'backtest', '--from', from, '--to', to, '--offline'], {
      cwd: ROOT,
      env: { ...process.env, LLM_TRADING_HOME: join(scratch, 'home'), ...env, BENCH_USAGE_FILE: usageFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // When each week was booked: the progress lines ("  12/753 weeks …") as they arrive.
    const bookedAt: number[] = [];
    const lines: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      lines.push(line);
      const booked = /^\s+(\d+)\/\d+ weeks/.exec(line);
      if (booked) bookedAt[Number(booked[1])] = performance.now();
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const seconds = (performance.now() - started) / 1000;
    if (status !== 0) {
      console.log(`  ${name}: backtest failed (exit ${status}): ${lines.at(-1) ?? ''}`);
      return false;
    }
    const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { cpuUs: number; maxRssKb: number };
    console.log(
      `  ${name.padEnd(10)} ${weeks} weeks in ${seconds.toFixed(1)} s wall (${(seconds / weeks).toFixed(3)} s/week, ${(weeks / seconds).toFixed(1)} weeks/s), ` +
        `cpu ${(usage.cpuUs / 1e6).toFixed(1)} s, peak ${(usage.maxRssKb / 1024).toFixed(0)} MB`,
    );
    const growth = weekCostGrowth(bookedAt, weeks);
    if (growth) console.log(`  ${''.padEnd(10)} ${growth}`);
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What a week cost at the start of the run and at its end: about the second and the last tenth of the
 * weeks, timed by the progress lines' arrival (without a terminal the CLI prints one every fiftieth of
 * the range). A week should cost the same in the 750th week as in the first: a ratio well above 1
 * means some statement or computation grows with the history (stop 23 found two statements that did).
 */
function weekCostGrowth(bookedAt: readonly number[], weeks: number): string | null {
  const points = bookedAt.flatMap((at, week) => (at === undefined ? [] : [{ week, at }]));
  const tenth = Math.floor(weeks / 10);
  // The second tenth, not the first: the first weeks also pay for the start (opening the database,
  // loading the bars) and run code V8 has not optimized yet.
  const first = points.find((p) => p.week >= tenth);
  const firstEnd = points.find((p) => first && p.week >= first.week + tenth);
  const last = points.at(-1);
  const lastStart = points.findLast((p) => last && p.week <= last.week - tenth);
  if (tenth < 5 || !first || !firstEnd || !last || !lastStart || firstEnd.week > lastStart.week) return null;
  const perWeek = (a: { week: number; at: number }, b: { week: number; at: number }) => (b.at - a.at) / (b.week - a.week);
  const early = perWeek(first, firstEnd);
  const late = perWeek(lastStart, last);
  return (
    `a week cost ${early.toFixed(0)} ms over weeks ${first.week}–${firstEnd.week} and ${late.toFixed(0)} ms over weeks ` +
    `${lastStart.week}–${last.week} (×${(late / early).toFixed(2)})`
  );
}

if (!existsSync(CLI)) {
  console.log('bench-backtest: no dist/cli.js; run `npm run build` first');
  process.exit(0);
}
const { from, to, weeks } = range();
const cpu = cpus();
console.log(`=== offline backtest ${from}..${to} (${weeks} weeks) through the built CLI, fresh database each`);
console.log(
  `machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`machine speed before the runs (scripts/machine-speed.ts): ${await machineSpeed()}`);
let ok = await backtest('PGlite', from, to, weeks, { DATABASE_URL: '' });
const serverUrl = process.env.BENCH_DATABASE_URL;
if (serverUrl) {
  const scratch = await createScratchDatabase(serverUrl);
  try {
    ok = (await backtest(`PostgreSQL`, from, to, weeks, { DATABASE_URL: scratch.url })) && ok;
  } finally {
    await scratch.drop();
  }
}
console.log(`machine speed after the runs: ${await machineSpeed()}`);
process.exitCode = ok ? 0 : 1;
