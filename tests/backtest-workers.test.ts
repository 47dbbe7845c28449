/**
 * A backtest shared through PostgreSQL's job queue (issue P5): the `backtest` command enqueues the
 * weeks and waits (--workers 0), `llm-trading worker` processes do them; one worker is killed -9 in
 * the middle of its jobs, and another picks them up as soon as a process on the queue sees that their
 * lease went with the dead worker's connection (src/jobs/leases.ts), long before they would expire
 * (10 minutes here). The books and the report equal
 * those of the same backtest run in one process. Real processes: kill -9 is the point.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/storage/db.js';
import { cli } from './helpers/cli.js';
import { booksOf, startCli, type Running } from './helpers/processes.js';
import { createScratchDatabase } from './helpers/stores.js';
import { quickQueueConfig, until } from './helpers/queue-config.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;
const RANGE = ['--from', '2024-01-03', '--to', '2024-02-21', '--offline', '--name', 'split'];
// A second backtest (another range, its own portfolio) on the same queue at the same time.
const OTHER = ['--from', '2024-03-06', '--to', '2024-03-20', '--offline', '--name', 'other'];

/** A portfolio's books in the database at `url`. */
async function books(url: string, portfolio: string) {
  const store = await openStore({ databaseUrl: url, pool: { min: 0, max: 2, commandTimeoutMs: 30_000 } });
  try {
    return await booksOf(store.db, portfolio);
  } finally {
    await store.close();
  }
}

async function activeJobs(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from pgboss.job where state = 'active'`);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

describe.skipIf(!ADMIN_URL)('a backtest on the job queue (PostgreSQL)', () => {
  let root: string;
  let config: string;
  const scratch: { url: string; drop(): Promise<void> }[] = [];
  const children: Running[] = [];
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lt-bt-workers-'));
    // Jobs of stopped workers are looked for every second, and expire only after 10 minutes; books
    // hand on every second, so they move between workers too.
    config = quickQueueConfig(root, 1);
  });
  const env = (url: string, home: string) => ({ DATABASE_URL: url, LLM_TRADING_HOME: join(root, home), LLM_TRADING_CONFIG_DIR: config });
  /** RANGE run in one process, once for the file: what each test's shared run must equal. */
  let reference: Promise<{ reference: { url: string }; one: Awaited<ReturnType<typeof cli>> }> | undefined;
  const oneProcess = () =>
    (reference ??= (async () => {
      const db = await createScratchDatabase(ADMIN_URL as string);
      scratch.push(db);
      const one = await cli(['backtest', ...RANGE, '--in-process', '--json'], env(db.url, 'one'));
      expect(one.code, one.stderr).toBe(0);
      return { reference: db, one };
    })());
  afterAll(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.done));
    for (const s of scratch) await s.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    'two workers, one killed -9 mid-job, give the books and reports of one process, for two backtests at once',
    { timeout: 120_000 },
    async () => {
      const { reference, one } = await oneProcess();
      const shared = await createScratchDatabase(ADMIN_URL as string);
      scratch.push(shared);
      const oneOther = await cli(['backtest', ...OTHER, '--in-process', '--json'], env(reference.url, 'one'));
      expect(oneOther.code, oneOther.stderr).toBe(0);

      const coordinator = startCli(['backtest', ...RANGE, '--workers', '0', '--json'], env(shared.url, 'coordinator'));
      children.push(coordinator);
      let coordinatorErr = '';
      coordinator.child.stderr?.on('data', (d: Buffer) => (coordinatorErr += d.toString()));
      await until('the coordinator to enqueue', () => coordinatorErr.includes('jobs enqueued'));
      const otherCoordinator = startCli(['backtest', ...OTHER, '--workers', '0', '--json'], env(shared.url, 'coordinator-2'));
      children.push(otherCoordinator);

      const first = startCli(['worker', '--workers', '2'], env(shared.url, 'worker-a'));
      children.push(first);
      let firstErr = '';
      first.child.stderr?.on('data', (d: Buffer) => (firstErr += d.toString()));
      await until('the first worker to finish a job', () => /decided the week of/.test(firstErr));
      first.child.kill('SIGKILL');
      const killed = await first.done;
      expect(killed.signal).toBe('SIGKILL');
      // The killed worker left jobs active; the coordinators hand them back (within a few seconds:
      // they look every second, at jobs active for more than the 5-s grace period).
      expect(await activeJobs(shared.url)).toBeGreaterThan(0);
      await until('the killed worker\u2019s jobs to be handed back', async () => (await activeJobs(shared.url)) === 0, 20_000);

      const second = startCli(['worker', '--workers', '2'], env(shared.url, 'worker-b'));
      children.push(second);
      const finished = await coordinator.done;
      expect(finished.code, finished.stderr).toBe(0);
      const otherFinished = await otherCoordinator.done;
      expect(otherFinished.code, otherFinished.stderr).toBe(0);
      second.child.kill('SIGTERM');
      const stopped = await second.done;
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/decided the week of|booked the weeks of/);
      expect(stopped.stderr).toMatch(/llm-trading worker: stopped$/m);

      expect(JSON.parse(finished.stdout)).toEqual(JSON.parse(one.stdout));
      expect(JSON.parse(otherFinished.stdout)).toEqual(JSON.parse(oneOther.stdout));
      for (const portfolio of ['bt-split', 'bt-other']) {
        const expected = await books(reference.url, portfolio);
        expect(expected.orders.length).toBeGreaterThan(5);
        expect(await books(shared.url, portfolio)).toEqual(expected);
      }
    },
  );

  it(
    'the database ending every connection mid-run (as a restart does): the backtest finishes with the books of one process',
    { timeout: 120_000 },
    async () => {
      const { reference, one } = await oneProcess();
      const shared = await createScratchDatabase(ADMIN_URL as string);
      scratch.push(shared);
      const range = [...RANGE, '--json'];

      const coordinator = startCli(['backtest', ...range, '--workers', '0'], env(shared.url, 'restart-coordinator'));
      const worker = startCli(['worker', '--workers', '2'], env(shared.url, 'restart-worker'));
      children.push(coordinator, worker);
      let workerErr = '';
      worker.child.stderr?.on('data', (d: Buffer) => (workerErr += d.toString()));
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      const database = new URL(shared.url).pathname.slice(1);
      let ended = 0;
      try {
        for (const weeksSeen of [1, 4]) {
          await until(`week ${weeksSeen} to be decided`, () => (workerErr.match(/decided the week of/g) ?? []).length >= weeksSeen);
          const { rows } = await admin.query<{ n: number }>(
            'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
            [database],
          );
          ended += rows[0]?.n ?? 0;
        }
      } finally {
        await admin.end();
      }
      expect(ended).toBeGreaterThan(4);
      const finished = await coordinator.done;
      expect(finished.code, finished.stderr).toBe(0);
      worker.child.kill('SIGTERM');
      const stopped = await worker.done;
      // Neither process died of a connection's error: the worker stopped when told to.
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/terminating connection due to administrator command/);
      expect(JSON.parse(finished.stdout)).toEqual(JSON.parse(one.stdout));
      expect(await books(shared.url, 'bt-split')).toEqual(await books(reference.url, 'bt-split'));
    },
  );
});
