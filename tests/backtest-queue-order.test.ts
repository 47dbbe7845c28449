/**
 * The decide jobs of a backtest come off the queue in week order (PostgreSQL, pg-boss). The books
 * replay week after week, so a worker deciding a late week first leaves them waiting; pg-boss orders
 * equally old jobs by id, and these ids are hashes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { weeksBetween, type BacktestRow } from '../src/backtest/backtest.js';
import { DECIDE_QUEUE, enqueueBacktest, openJobQueue } from '../src/backtest/jobs.js';
import { loadConfig } from '../src/config/app-config.js';
import { createScratchDatabase } from './helpers/stores.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;

describe.skipIf(!ADMIN_URL)('backtest jobs on the queue', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

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
});
