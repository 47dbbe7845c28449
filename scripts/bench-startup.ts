/**
 * npm run bench (first part) — start-up of the built CLI, as a user meets it.
 *
 *   cold       `node dist/cli.js demo` on a new LLM_TRADING_HOME (creates the embedded database)
 *   no-op      the same again on that home (everything done: opens, reads, prints)
 *   --help     `node dist/cli.js --help`
 *   bad flag   `node dist/cli.js run_weekly --week nope` (exit 1 with one line)
 *   wrong day  `node dist/cli.js run_weekly --week 2024-03-07`, a Thursday (exit 1 with one line)
 *   node       `node -e 0`, the floor every command stands on
 *
 * Each is run 3 times in a child process; the median is printed: wall time, CPU time (user + system)
 * and peak resident memory, the last two read by the child itself at exit (process.resourceUsage(),
 * /proc/self/status).
 * The machine (CPUs, memory, load average) is printed with the figures: on a 2-core machine
 * another busy process changes the wall times a lot, the CPU times much less.
 * Needs a build (`npm run build`); says whether new databases start from its PGlite template.
 * Prints figures and exits 0; it asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPLATE_DIR, templateIsCurrent } from '../src/storage/pglite-template.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const MIGRATIONS = join(ROOT, 'src', 'storage', 'migrations');
const RUNS = 3;

interface Sample {
  wallMs: number;
  cpuMs: number;
  peakMb: number;
  status: number | null;
}

// Loaded into the child before its program: at exit, write its own resource usage to a file.
// Peak memory is Linux's VmHWM where there is one: getrusage's maxRSS of a forked child starts from
// its parent's (this bench's) resident size, which would hide anything smaller.
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

function run(args: string[], env: Record<string, string> = {}): Sample {
  const scratch = mkdtempSync(join(tmpdir(), 'lt-bench-usage-'));
  const usageFile = join(scratch, 'usage.json');
  try {
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--import', REPORT_USAGE, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, BENCH_USAGE_FILE: usageFile },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    const wallMs = performance.now() - started;
    const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { cpuUs: number; maxRssKb: number };
    return { wallMs, cpuMs: usage.cpuUs / 1000, peakMb: usage.maxRssKb / 1024, status: child.status };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function report(name: string, samples: Sample[], goal?: { wallMs: number; peakMb?: number }): void {
  const wall = median(samples.map((s) => s.wallMs));
  const cpu = median(samples.map((s) => s.cpuMs));
  const peak = median(samples.map((s) => s.peakMb));
  const exits = [...new Set(samples.map((s) => s.status))].join('/');
  const target = goal ? `   goal ≤ ${(goal.wallMs / 1000).toFixed(1)} s${goal.peakMb ? `, ≤ ${goal.peakMb} MB` : ''}` : '';
  console.log(
    `  ${name.padEnd(10)} wall ${(wall / 1000).toFixed(2).padStart(6)} s   cpu ${(cpu / 1000).toFixed(2).padStart(6)} s   peak ${peak.toFixed(0).padStart(4)} MB   exit ${exits}${target}`,
  );
}

if (!existsSync(CLI)) {
  console.log('bench-startup: no dist/cli.js; run `npm run build` first');
  process.exit(0);
}
const cpu = cpus();
console.log(`=== start-up of the built CLI (median of ${RUNS}; each run a new process)`);
console.log(
  `machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  templateIsCurrent(TEMPLATE_DIR, MIGRATIONS)
    ? `new databases start from the PGlite template in ${TEMPLATE_DIR}`
    : `no current PGlite template in ${TEMPLATE_DIR}: new databases run initdb (npm run build makes the template)`,
);

const homes = Array.from({ length: RUNS }, () => mkdtempSync(join(tmpdir(), 'lt-bench-home-')));
try {
  // The embedded database even if a .env names a server (dotenv never overrides a variable that is set).
  const offline = (home: string) => ({ LLM_TRADING_HOME: home, DATABASE_URL: '' });
  report(
    'cold',
    homes.map((home) => run([CLI, 'demo'], offline(home))),
    { wallMs: 5000, peakMb: 300 },
  );
  report(
    'no-op',
    homes.map((home) => run([CLI, 'demo'], offline(home))),
    { wallMs: 2000 },
  );
  const repeat = (args: string[]) => Array.from({ length: RUNS }, () => run(args));
  report('--help', repeat([CLI, '--help']), { wallMs: 300 });
  report('bad flag', repeat([CLI, 'run_weekly', '--week', 'nope']), { wallMs: 300 });
  report('wrong day', repeat([CLI, 'run_weekly', '--week', '2024-03-07']), { wallMs: 300 });
  report('node', repeat(['-e', '0']));
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
}
