/**
 * Real processes against one database (issue P3 #2, #9, #10, #11): several `run_weekly` at once on one
 * embedded home and on one PostgreSQL database, and kill -9 at random points followed by a resume.
 * Whatever happens, the books must equal a single clean run: every order once, every order with its
 * event, every stage's artifact present, no temporary file left, the data folder usable.
 *
 * `npm run stress` runs the same scenarios for many rounds and prints the figures.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../src/council/stage.js';
import { openStore, type Store } from '../src/storage/db.js';
import { events, orders, runs, stageRuns } from '../src/storage/schema.js';
import { cli } from './helpers/cli.js';
import { booksOf, runCli, startCli } from './helpers/processes.js';
import { createScratchDatabase } from './helpers/stores.js';

const WEEK = '2024-03-06';
const ARGS = ['run_weekly', '--week', WEEK, '--json'];

let root: string;
let reference: Awaited<ReturnType<typeof booksOf>>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lt-proc-'));
  // The single clean run every scenario must end up equal to (in this process: it is the reference,
  // not one of the processes under test).
  const home = join(root, 'reference');
  const clean = await cli(ARGS, { LLM_TRADING_HOME: home });
  expect(clean.code, clean.stderr).toBe(0);
  reference = await withStore({ home }, (store) => booksOf(store.db, 'default'));
  expect(reference.orders.length).toBeGreaterThan(0);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function withStore<T>(where: { home?: string; url?: string }, body: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ ...(where.url ? { databaseUrl: where.url } : { home: where.home as string }), lockTimeoutMs: 60_000 });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Everything a finished week must be, whatever happened to the processes that ran it. */
async function expectCleanWeek(where: { home?: string; url?: string }, home: string): Promise<void> {
  await withStore(where, async (store) => {
    expect(await booksOf(store.db, 'default')).toEqual(reference);
    const [run] = await store.db
      .select()
      .from(runs)
      .where(and(eq(runs.portfolio, 'default'), eq(runs.weekId, WEEK)));
    expect(run?.status).toBe('completed');
    const stages = await store.db.select().from(stageRuns).where(eq(stageRuns.weekId, WEEK));
    expect(
      stages
        .filter((s) => s.status === 'completed')
        .map((s) => s.stage)
        .sort(),
    ).toEqual([...STAGES].sort());
    // No order without its event, no event without its order.
    const placed = await store.db.select({ id: orders.clientOrderId }).from(orders).where(eq(orders.portfolio, 'default'));
    const logged = await store.db
      .select({ key: events.idempotencyKey })
      .from(events)
      .where(and(eq(events.portfolio, 'default'), eq(events.kind, 'order')));
    expect(logged.map((e) => e.key).sort()).toEqual(placed.map((o) => `order:${o.id}`).sort());
  });
  const dir = join(home, 'runs', 'default', WEEK);
  for (const stage of STAGES) expect(existsSync(join(dir, 'normalized', `${stage}.json`)), stage).toBe(true);
  expect(readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
}

/** The resumed run's --json lists every order of the week, those placed before a kill included. */
function expectResultHasAllOrders(stdout: string): void {
  const result = JSON.parse(stdout) as { status: string; accounts: { orders: unknown[] }[] };
  expect(result.status).toBe('completed');
  expect(result.accounts.flatMap((a) => a.orders)).toHaveLength(reference.orders.length);
}

const engines = [
  { name: 'pglite', url: undefined as string | undefined },
  ...(process.env.TEST_DATABASE_URL ? [{ name: 'postgres', url: process.env.TEST_DATABASE_URL }] : []),
];

describe.each(engines)('processes on $name', ({ name, url: adminUrl }) => {
  /** A fresh database for one scenario: a new home, and on PostgreSQL a new scratch database. */
  async function fresh(
    label: string,
  ): Promise<{ env: NodeJS.ProcessEnv; where: { home?: string; url?: string }; home: string; drop(): Promise<void> }> {
    const home = join(root, `${name}-${label}`);
    if (!adminUrl) return { env: { LLM_TRADING_HOME: home }, where: { home }, home, drop: async () => undefined };
    const scratch = await createScratchDatabase(adminUrl);
    const url = scratch.url;
    return {
      env: { LLM_TRADING_HOME: home, DATABASE_URL: url },
      where: { url },
      home,
      drop: () => scratch.drop(),
    };
  }

  it('three run_weekly at once: one does the week, the others wait and find it done; the books equal one clean run', async () => {
    const db = await fresh('concurrent');
    try {
      const runs = await Promise.all([0, 1, 2].map(() => runCli(ARGS, db.env).then((r) => r)));
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(0);
        expectResultHasAllOrders(r.stdout);
      }
      // Someone had to wait: for the embedded database, or for the week.
      expect(runs.some((r) => /waiting/.test(r.stderr))).toBe(true);
      await expectCleanWeek(db.where, db.home);
    } finally {
      await db.drop();
    }
  }, 180_000);

  it('killed with -9 at random points and resumed: nothing lost, nothing doubled', async () => {
    const db = await fresh('kill');
    // A seeded spread of kill times across a run (measured by the reference run's length on this machine).
    const delays = [0.15, 0.45, 0.8].map((f) => Math.round(f * 4000));
    try {
      for (const delay of delays) {
        const running = startCli(['run_weekly', '--week', WEEK], db.env);
        await new Promise((resolve) => setTimeout(resolve, delay));
        running.child.kill('SIGKILL');
        await running.done;
      }
      const resumed = await runCli(ARGS, db.env);
      expect(resumed.code, resumed.stderr).toBe(0);
      expectResultHasAllOrders(resumed.stdout);
      await expectCleanWeek(db.where, db.home);
    } finally {
      await db.drop();
    }
  }, 180_000);
});

describe('the embedded database, busy', () => {
  it('a second process that will not wait says who holds the database, and advises nothing destructive', async () => {
    const home = join(root, 'busy');
    const first = startCli(['run_weekly', '--week', WEEK], { LLM_TRADING_HOME: home });
    // Wait until the first process holds the lock.
    for (let i = 0; i < 200 && !existsSync(join(home, 'pgdata.lock')); i++) await new Promise((r) => setTimeout(r, 25));
    const second = await runCli(['status', '--lock-timeout', '0'], { LLM_TRADING_HOME: home });
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^llm-trading: process \d+ \(llm-trading run_weekly, since .*\) is using .*\/busy\/pgdata: wait for it, raise --lock-timeout, or use PostgreSQL/,
    );
    expect(lines[0]).not.toMatch(/corrupt|move it away|\[object Object\]/);
    expect((await first.done).code).toBe(0);
    // Once it is free, the same command works.
    expect((await runCli(['status'], { LLM_TRADING_HOME: home })).code).toBe(0);
  }, 120_000);
});

/** A small tmpfs to fill up (root only; skipped where mounting is not allowed). */
function mountTmpfs(dir: string, megabytes: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}M`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk (issue P3 #11)', () => {
  const dir = join(tmpdir(), `lt-full-${process.pid}`);
  let mounted = false;
  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    mounted = mountTmpfs(dir, 80);
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says "no space left on device" in one line, keeps the run resumable, and loses nothing once space is back', async (ctx) => {
    if (!mounted) ctx.skip();
    const env = { LLM_TRADING_HOME: join(dir, 'home') };
    expect((await cli(['db', 'migrate'], env)).code).toBe(0);
    // Fill the disk, leaving a few hundred KB: enough to start, not enough to finish.
    const free = Number(execFileSync('df', ['-k', '--output=avail', dir]).toString().trim().split('\n').at(-1));
    const filler = join(dir, 'filler');
    execFileSync('fallocate', ['-l', `${Math.max(0, free - 300)}K`, filler]);
    const full = await runCli(['run_weekly', '--week', WEEK, '--json'], env);
    expect(full.code).toBe(1);
    const lines = full.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^llm-trading: .*no space left on device/);
    expect(full.stderr).not.toMatch(/Failed query|insert into|update "|\[object Object\]|corrupt/);
    rmSync(filler);
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { status: string; error: string | null }[];
    expect(status[0]?.status).not.toBe('running');
    const resumed = await runCli(ARGS, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectResultHasAllOrders(resumed.stdout);
    await expectCleanWeek({ home: env.LLM_TRADING_HOME }, env.LLM_TRADING_HOME);
  }, 120_000);

  it('a backtest that fills the disk stops in one line and, once space is back, continues to the report of a clean run', async (ctx) => {
    if (!mounted) ctx.skip();
    const range = ['backtest', '--from', '2024-01-03', '--to', '2024-02-07', '--offline', '--name', 'full', '--json'];
    const env = { LLM_TRADING_HOME: join(dir, 'backtest-home') };
    expect((await cli(['db', 'migrate'], env)).code).toBe(0);
    // About 3 MB left: a week writes about 1 MB (its rows and its files), so it stops after a few weeks.
    const free = Number(execFileSync('df', ['-k', '--output=avail', dir]).toString().trim().split('\n').at(-1));
    const filler = join(dir, 'backtest-filler');
    execFileSync('fallocate', ['-l', `${Math.max(0, free - 3000)}K`, filler]);
    const full = await runCli(range, env);
    expect(full.code).toBe(1);
    expect(full.stderr.trim().split('\n').at(-1)).toMatch(/^llm-trading: .*(no space left on device|ENOSPC)/);
    expect(full.stderr).not.toMatch(/Failed query|insert into|update "|\[object Object\]|corrupt|\n +at /);
    rmSync(filler);
    const continued = await runCli(range, env);
    expect(continued.code, continued.stderr).toBe(0);
    const cleanHome = mkdtempSync(join(tmpdir(), 'lt-full-clean-'));
    try {
      const clean = await cli(range, { LLM_TRADING_HOME: cleanHome });
      expect(clean.code, clean.stderr).toBe(0);
      expect(JSON.parse(continued.stdout)).toEqual(JSON.parse(clean.stdout));
    } finally {
      rmSync(cleanHome, { recursive: true, force: true });
    }
  }, 120_000);
});
