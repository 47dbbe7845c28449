/**
 * The schedule's slots as PostgreSQL jobs (issue P7): a daemon that only hands slots on (--workers 0)
 * and `llm-trading worker` processes that run them; the worker running the weekly run is killed -9
 * in the middle of it, another takes the job as soon as its lease is seen gone with the dead worker
 * (src/jobs/leases.ts; jobs expire only after 10 minutes here) and the week resumes — books equal to a clean run,
 * no order twice. Real processes: kill -9 is the point.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/storage/db.js';
import { scheduleRuns } from '../src/storage/schema.js';
import { cli } from './helpers/cli.js';
import { booksOf, startCli, type Running } from './helpers/processes.js';
import { createScratchDatabase } from './helpers/stores.js';
import { quickQueueConfig, until } from './helpers/queue-config.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;
const NOW = ['--now', '2024-03-06T13:05:00Z', '--offline']; // Wednesday 08:05 New York: the weekly run is due

describe.skipIf(!ADMIN_URL)('the schedule on the job queue (PostgreSQL)', () => {
  let root: string;
  let config: string;
  const scratch: { url: string; drop(): Promise<void> }[] = [];
  const children: Running[] = [];
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lt-schedule-workers-'));
    config = quickQueueConfig(root);
  });
  afterAll(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.done));
    for (const s of scratch) await s.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a worker killed -9 in the weekly run: another finishes it, the books equal a clean run', { timeout: 120_000 }, async () => {
    const [reference, shared] = [await createScratchDatabase(ADMIN_URL as string), await createScratchDatabase(ADMIN_URL as string)];
    scratch.push(reference, shared);
    const env = (url: string, home: string) => ({ DATABASE_URL: url, LLM_TRADING_HOME: join(root, home), LLM_TRADING_CONFIG_DIR: config });

    const clean = await cli(['schedule', '--once', ...NOW], env(reference.url, 'clean'));
    expect(clean.code, clean.stderr).toBe(0);

    const daemon = startCli(['schedule', ...NOW, '--workers', '0'], env(shared.url, 'daemon'));
    children.push(daemon);
    const first = startCli(['worker'], env(shared.url, 'worker-a'));
    children.push(first);
    let firstErr = '';
    first.child.stderr?.on('data', (d: Buffer) => (firstErr += d.toString()));
    await until('the first worker to start the weekly run', () => /schedule default started weekly:2024-03-06/.test(firstErr)).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${firstErr}`);
      },
    );
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    const second = startCli(['worker'], env(shared.url, 'worker-b'));
    children.push(second);
    let secondErr = '';
    second.child.stderr?.on('data', (d: Buffer) => (secondErr += d.toString()));
    await until('the second worker to finish the weekly run', () => /schedule default completed weekly:2024-03-06/.test(secondErr));
    daemon.child.kill('SIGTERM');
    second.child.kill('SIGTERM');
    const [stoppedDaemon, stoppedWorker] = [await daemon.done, await second.done];
    expect(stoppedDaemon.code, stoppedDaemon.stderr).toBe(0);
    expect(stoppedWorker.code, stoppedWorker.stderr).toBe(0);

    const store = await openStore({ databaseUrl: shared.url, pool: { min: 0, max: 2, commandTimeoutMs: 30_000 } });
    const refStore = await openStore({ databaseUrl: reference.url, pool: { min: 0, max: 2, commandTimeoutMs: 30_000 } });
    try {
      const [row] = await store.db
        .select()
        .from(scheduleRuns)
        .where(and(eq(scheduleRuns.portfolio, 'default'), eq(scheduleRuns.slot, 'weekly:2024-03-06')));
      // Claimed twice (the killed worker, then the second), completed once.
      expect(row).toMatchObject({ status: 'completed', attempts: 2 });
      const books = await booksOf(store.db, 'default');
      expect(books.orders.length).toBeGreaterThan(0);
      expect(books).toEqual(await booksOf(refStore.db, 'default'));
    } finally {
      await store.close();
      await refStore.close();
    }
  });
});
