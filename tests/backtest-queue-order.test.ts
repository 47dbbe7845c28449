/**
 * The decide jobs of a backtest come off the queue in week order (PostgreSQL, pg-boss). The books
 * replay week after week, so a worker deciding a late week first leaves them waiting; pg-boss orders
 * equally old jobs by id, and these ids are hashes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { backtestPortfolio, backtestRow, failBacktest, openBacktest, weeksBetween, type BacktestRow } from '../src/backtest/backtest.js';
import { driveBacktest } from '../src/backtest/drive.js';
import {
  BOOKS_QUEUE,
  DECIDE_QUEUE,
  enqueueBacktest,
  type JobQueue,
  onBacktestOrphan,
  openJobQueue,
  startWorker,
} from '../src/backtest/jobs.js';
import { ORPHAN_REASON } from '../src/jobs/leases.js';
import { eq, sql } from 'drizzle-orm';
import { stageRuns } from '../src/storage/schema.js';
import { loadConfig } from '../src/config/app-config.js';
import { openStore, type Store } from '../src/storage/db.js';
import { testApp } from './helpers/app.js';
import { createScratchDatabase } from './helpers/stores.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;

describe.skipIf(!ADMIN_URL)('backtest jobs on the queue', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  /** A scratch database and a store on it, both gone after the file. */
  const scratchStore = async () => {
    const scratch = await createScratchDatabase(ADMIN_URL as string);
    cleanups.push(() => scratch.drop());
    const store = await openStore({ databaseUrl: scratch.url });
    cleanups.push(() => store.close());
    return { scratch, store };
  };
  /** A scratch store, the shipped config and a job queue on that database (closed after the file), with the errors it reports. */
  const scratchQueue = async () => {
    const { scratch, store } = await scratchStore();
    const config = loadConfig();
    const queueErrors: Error[] = [];
    const queue = await openJobQueue(scratch.url, config.schedule.jobs, (e) => queueErrors.push(e));
    cleanups.push(() => queue.close());
    return { scratch, store, config, queue, queueErrors };
  };
  /** Waits (up to a minute) until `done` says so. */
  const waitFor = async (what: string, done: () => Promise<boolean>) => {
    for (let i = 0; i < 1200; i++) {
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  /** An offline app on a backtest's portfolio in the scratch store (cleaned up after the file). */
  const backtestApp = async (store: Store, url: string, name: string) => {
    const app = await testApp(store, { DATABASE_URL: url }, { portfolio: backtestPortfolio(name), portfolioKind: 'backtest' });
    cleanups.push(() => app.cleanup());
    return app;
  };
  /** The books jobs of a backtest in the queue, oldest first: state, first week and run. */
  const booksJobsOf = async (store: Store, backtest: string) =>
    (
      (await store.db.execute(
        sql`select state, (data->>'from_index')::int as from_index, data->>'run' as run from pgboss.job where name = ${BOOKS_QUEUE} and data->>'backtest' = ${backtest} order by created_on, (data->>'from_index')::int`,
      )) as unknown as { rows: { state: string; from_index: number; run: string }[] }
    ).rows;
  /** Sends a decide job and waits for the queue's verdict on it: 'completed' or 'failed'. */
  const decideJob = async (queue: JobQueue, data: { backtest: string; week_id: string; run?: string }) => {
    const id = (await queue.boss.send(DECIDE_QUEUE, data)) as string;
    let state: string | undefined;
    await waitFor(`the decide job of ${data.week_id}`, async () => {
      state = (await queue.boss.getJobById(DECIDE_QUEUE, id))?.state;
      return state === 'completed' || state === 'failed';
    });
    return state;
  };

  it('are taken one by one in week order, also when the backtest continues', { timeout: 60_000 }, async () => {
    const scratch = await createScratchDatabase(ADMIN_URL as string);
    cleanups.push(() => scratch.drop());
    const config = loadConfig();
    const queueErrors: Error[] = [];
    const queue = await openJobQueue(scratch.url, config.schedule.jobs, (e) => queueErrors.push(e));
    cleanups.push(() => queue.close());
    const weeks = weeksBetween(config, '2024-01-03', '2024-06-26');
    expect(weeks.length).toBe(26);
    const takeAll = async () => {
      const taken: string[] = [];
      for (;;) {
        const [job] = await queue.boss.fetch<{ week_id: string }>(DECIDE_QUEUE, { batchSize: 1 });
        if (!job) return taken;
        taken.push(job.data.week_id);
        await queue.boss.complete(DECIDE_QUEUE, job.id);
      }
    };
    const row = { name: 'order', weeksDone: 0 } as BacktestRow;
    await enqueueBacktest(queue, row, weeks);
    expect(await takeAll()).toEqual(weeks.map((w) => w.week_id));

    // A continued run enqueues the weeks not booked yet, in order again.
    await enqueueBacktest(queue, { ...row, weeksDone: 20 }, weeks);
    expect(await takeAll()).toEqual(weeks.slice(20).map((w) => w.week_id));
    expect(queueErrors).toEqual([]);
  });

  it(
    'a backtest command\u2019s own worker wakes its progress loop: the run ends when its last week is booked, not a poll later',
    { timeout: 60_000 },
    async () => {
      const { scratch, store } = await scratchStore();
      const app = await backtestApp(store, scratch.url, 'woken');
      const weeks = weeksBetween(app.config, '2024-01-03', '2024-01-17');
      const seen: number[] = [];
      // Polling once in ten minutes: only the worker's wake-ups can end this run within the test's timeout.
      const run = await driveBacktest(app, 'woken', weeks, {
        settings: { offline: true, allow_offline_seats: false },
        workers: 2,
        pollMs: 600_000,
        onProgress: (p) => seen.push(p.weeks_done),
      });
      expect(run.postmortems.map((p) => p.week_id)).toEqual(weeks.map((w) => w.week_id));
      expect(seen.at(-1)).toBe(weeks.length);
      expect((await backtestRow(store.db, 'woken'))?.weeksDone).toBe(weeks.length);
    },
  );

  it(
    'a worker closes the app of a backtest whose last week it booked, and of one a later job finds failed',
    { timeout: 120_000 },
    async () => {
      const { scratch, store } = await scratchStore();
      const config = loadConfig();
      const queueErrors: Error[] = [];
      const queue = await openJobQueue(scratch.url, config.schedule.jobs, (e) => queueErrors.push(e));
      const weeks = weeksBetween(config, '2024-01-03', '2024-01-10');
      const settings = { offline: true, allow_offline_seats: false };
      const appOf = async (name: string) => {
        const app = await testApp(store, { DATABASE_URL: scratch.url }, { portfolio: backtestPortfolio(name), portfolioKind: 'backtest' });
        cleanups.push(async () => {
          await app.close();
          await app.cleanup();
        });
        return app;
      };
      const done = await appOf('done');
      const doneRow = await openBacktest(done, 'done', weeks, settings);
      const failed = await appOf('failed');
      const failedRow = await openBacktest(failed, 'failed', weeks, settings);

      const worker = await startWorker(queue, { store, env: done.env, config, slots: 1, lockTimeoutMs: 60_000, log: () => undefined });
      try {
        await enqueueBacktest(queue, doneRow, weeks);
        for (let i = 0; i < 600 && (await backtestRow(store.db, 'done'))?.weeksDone !== weeks.length; i++)
          await new Promise((r) => setTimeout(r, 100));
        expect((await backtestRow(store.db, 'done'))?.weeksDone).toBe(weeks.length);
        // The books job that booked the last week closed the backtest's app behind it.
        for (let i = 0; i < 100 && worker.openApps() > 0; i++) await new Promise((r) => setTimeout(r, 50));
        expect(worker.openApps()).toBe(0);

        // Another backtest: a decide job opens its app and leaves it open (more jobs of it may come).
        const decideOne = (weekId: string) => decideJob(queue, { backtest: 'failed', week_id: weekId });
        expect(await decideOne(weeks[0]!.week_id)).toBe('completed');
        expect(worker.openApps()).toBe(1);
        // It fails elsewhere: the next job of it finds it failed, does nothing, and closes its app here.
        await failBacktest(store.db, 'failed', 'failed in another worker');
        expect(await decideOne(weeks[1]!.week_id)).toBe('completed');
        expect(worker.openApps()).toBe(0);
        expect((await backtestRow(store.db, failedRow.name))?.status).toBe('failed');
      } finally {
        await worker.stop();
        await queue.close();
        await worker.close();
      }
      expect(worker.openApps()).toBe(0);
      expect(queueErrors).toEqual([]);
    },
  );

  it(
    'a job of an earlier run (the backtest was continued since) does nothing, and its failure does not fail the current run',
    { timeout: 60_000 },
    async () => {
      const { scratch, store, config, queue } = await scratchQueue();
      const app = await backtestApp(store, scratch.url, 'rerun');
      const weeks = weeksBetween(config, '2024-01-03', '2024-01-10');
      const settings = { offline: true, allow_offline_seats: false };
      const first = await openBacktest(app, 'rerun', weeks, settings);
      const current = await openBacktest(app, 'rerun', weeks, settings); // continued: a new run
      expect(current.run).not.toBe(first.run);
      // The earlier run's failure reaches nothing; the current run's does.
      await failBacktest(store.db, 'rerun', 'a job of the earlier run failed', first.run as string);
      expect(await backtestRow(store.db, 'rerun')).toMatchObject({ status: 'running', error: null });

      const worker = await startWorker(queue, { store, env: app.env, config, slots: 1, lockTimeoutMs: 60_000, log: () => undefined });
      try {
        const decided = (run: string) => decideJob(queue, { backtest: 'rerun', week_id: weeks[0]!.week_id, run });
        const stages = async () =>
          (await store.db.select().from(stageRuns).where(eq(stageRuns.portfolio, 'bt-rerun'))).map((r) => r.stage).sort();
        expect(await decided(first.run as string)).toBe('completed');
        expect(await stages()).toEqual([]);
        expect(worker.openApps()).toBe(0); // nothing opened for it
        expect(await decided(current.run as string)).toBe('completed');
        expect(await stages()).toEqual(['chairman', 'peer_review', 'pm_pitches', 'research', 'snapshot']);
      } finally {
        await worker.stop();
        await worker.idle();
        await worker.close();
      }
      await failBacktest(store.db, 'rerun', 'a job of the current run failed', current.run as string);
      expect(await backtestRow(store.db, 'rerun')).toMatchObject({ status: 'failed', error: 'a job of the current run failed' });
    },
  );

  it(
    'a books job in flight books no further week once its backtest is continued as a new run, or fails',
    { timeout: 120_000 },
    async () => {
      const { scratch, store, config, queue, queueErrors } = await scratchQueue();
      const weeks = weeksBetween(config, '2024-01-03', '2024-03-27');
      const settings = { offline: true, allow_offline_seats: false };
      const booked = async (name: string) => (await backtestRow(store.db, name))?.weeksDone ?? 0;
      // Books jobs of a minute each (the default): without the check, each job below would book all 13 weeks.
      expect(config.schedule.jobs.books_chunk_seconds).toBeGreaterThanOrEqual(60);
      const apps = {
        continued: await backtestApp(store, scratch.url, 'continued'),
        failed: await backtestApp(store, scratch.url, 'failed'),
      };
      const interruptions: Record<string, () => Promise<unknown>> = {
        // Continued as a new run (whose own books job, not enqueued here, would go on from the count).
        continued: async () => expect((await openBacktest(apps.continued, 'continued', weeks, settings)).run).not.toBe(firstRun.continued),
        failed: () => failBacktest(store.db, 'failed', 'stopped by the test'),
      };
      const firstRun: Record<string, string | null> = {};
      const worker = await startWorker(queue, {
        store,
        env: apps.failed.env,
        config,
        slots: 1,
        lockTimeoutMs: 60_000,
        log: () => undefined,
      });
      try {
        for (const name of ['continued', 'failed'] as const) {
          const row = await openBacktest(apps[name], name, weeks, settings);
          firstRun[name] = row.run;
          await enqueueBacktest(queue, row, weeks);
          await waitFor(`two weeks of ${name} booked`, async () => (await booked(name)) >= 2);
          await interruptions[name]!();
          // The job in hand stops after the week it is booking, completes and hands nothing on.
          await waitFor(`the books job of ${name} completed`, async () => (await booksJobsOf(store, name))[0]?.state === 'completed');
          const atEnd = await booked(name);
          expect(atEnd).toBeLessThan(weeks.length);
          expect((await booksJobsOf(store, name)).map(({ state, run }) => ({ state, run }))).toEqual([
            { state: 'completed', run: row.run },
          ]);
          await new Promise((r) => setTimeout(r, 1_000));
          expect(await booked(name)).toBe(atEnd);
        }
      } finally {
        await worker.stop();
        await worker.idle();
        await worker.close();
      }
      expect(queueErrors).toEqual([]);
    },
  );

  it(
    'a worker told to stop books no further week: its books job completes and hands the rest to a new job, which another worker finishes',
    { timeout: 120_000 },
    async () => {
      const { scratch, store, config, queue, queueErrors } = await scratchQueue();
      const app = await backtestApp(store, scratch.url, 'handed');
      const weeks = weeksBetween(config, '2024-01-03', '2024-03-27');
      const row = await openBacktest(app, 'handed', weeks, { offline: true, allow_offline_seats: false });
      // Books jobs of a minute each (the default): without the stop, the first would book every week.
      expect(config.schedule.jobs.books_chunk_seconds).toBeGreaterThanOrEqual(60);
      const booked = async () => (await backtestRow(store.db, 'handed'))?.weeksDone ?? 0;

      const first = await startWorker(queue, { store, env: app.env, config, slots: 2, lockTimeoutMs: 60_000, log: () => undefined });
      await enqueueBacktest(queue, row, weeks);
      await waitFor('two weeks booked', async () => (await booked()) >= 2);
      const stoppedAt = performance.now();
      await first.stop();
      await first.idle();
      // It stopped at the end of the week in hand (an offline week books in well under a second).
      expect(performance.now() - stoppedAt).toBeLessThan(5_000);
      const atStop = await booked();
      expect(atStop).toBeLessThan(weeks.length);
      await first.close();
      const booksJobs = async () => (await booksJobsOf(store, 'handed')).map(({ state, from_index }) => ({ state, from_index }));
      // Its books job completed (not failed, not left active: pg-boss records it just after the handler
      // returns) and a new one holds the rest, from the first week not booked.
      await waitFor('the first books job completed', async () => (await booksJobs())[0]?.state === 'completed');
      expect(await booksJobs()).toEqual([
        { state: 'completed', from_index: 0 },
        { state: 'created', from_index: atStop },
      ]);

      const second = await startWorker(queue, { store, env: app.env, config, slots: 2, lockTimeoutMs: 60_000, log: () => undefined });
      try {
        await waitFor('every week booked', async () => (await booked()) === weeks.length);
        await waitFor('both books jobs completed', async () => (await booksJobs()).every((j) => j.state === 'completed'));
      } finally {
        await second.stop();
        await second.idle();
        await second.close();
      }
      expect((await booksJobs()).map((j) => j.from_index)).toEqual([0, atStop]);
      expect(queueErrors).toEqual([]);
    },
  );

  it(
    'a job whose worker stopped and that has no retry left fails its backtest, and the waiting command hears why',
    { timeout: 60_000 },
    async () => {
      const { scratch, store } = await scratchStore();
      const config = loadConfig();
      const app = await backtestApp(store, scratch.url, 'orphaned');
      const weeks = weeksBetween(config, '2024-01-03', '2024-01-10');
      const row = await openBacktest(app, 'orphaned', weeks, { offline: true, allow_offline_seats: false });
      const lines: string[] = [];
      const queue = await openJobQueue(
        scratch.url,
        config.schedule.jobs,
        () => undefined,
        onBacktestOrphan(store.db, (l) => lines.push(l)),
      );
      try {
        // A worker took the week's decisions and died: the job is active, with no lease and no retry left.
        const id = (await queue.boss.send(DECIDE_QUEUE, { backtest: 'orphaned', week_id: weeks[0]!.week_id }, { retryLimit: 0 })) as string;
        expect((await queue.boss.fetch(DECIDE_QUEUE))[0]?.id).toBe(id);
        await store.db.execute(sql`update pgboss.job set started_on = now() - interval '1 minute' where id = ${id}`);
        expect(await queue.reapOrphans()).toMatchObject([{ id, givenUp: true }]);
        expect(lines).toEqual([`backtest orphaned: job ${DECIDE_QUEUE}: ${ORPHAN_REASON}; no retry left`]);
        const failed = await backtestRow(store.db, row.name);
        expect(failed).toMatchObject({ status: 'failed', error: `job ${DECIDE_QUEUE}: ${ORPHAN_REASON}, with no retry left` });
      } finally {
        await queue.close();
      }
    },
  );
});
