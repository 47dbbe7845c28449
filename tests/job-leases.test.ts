/**
 * Job leases on PostgreSQL's job queue (src/jobs/leases.ts): a job whose worker is gone is handed back
 * at once instead of after jobs.expire_seconds; a job a live worker runs never is, however long it
 * takes; one job is handed back once when several processes look at the same moment; with no retry
 * left it fails, and the queue's hook hears so. A worker "gone" here is a job fetched with no lease,
 * which is what a worker killed -9 leaves (its connection and its locks went with it);
 * tests/backtest-workers.test.ts and tests/schedule-workers.test.ts kill real processes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/app-config.js';
import { openQueue, type JobQueue } from '../src/jobs/queue.js';
import { ORPHAN_REASON, type OrphanJob } from '../src/jobs/leases.js';
import { createScratchDatabase } from './helpers/stores.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;
const QUEUE = 'lease-test';

describe.skipIf(!ADMIN_URL)('job leases (PostgreSQL)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let url: string;
  let sql: pg.Client;
  const errors: Error[] = [];
  const heard: OrphanJob[] = [];
  // Long expiry and no automatic look: only reapOrphans() below hands jobs back. A long retry delay,
  // which a job handed back skips: its worker died, the job did not fail.
  const jobs = { ...loadConfig().schedule.jobs, expire_seconds: 3600, retry_delay_seconds: 600, orphan_check_seconds: 3600 };
  const open = async (): Promise<JobQueue> => {
    const queue = await openQueue(url, jobs, (e) => errors.push(e), [{ name: QUEUE }], { onOrphan: (job) => void heard.push(job) });
    cleanups.push(() => queue.close());
    return queue;
  };
  const stateOf = async (id: string) =>
    (await sql.query<{ state: string; retry_count: number }>('select state, retry_count from pgboss.job where id = $1', [id])).rows[0];
  /** As if the job had started a minute ago: past the lease's grace period. */
  const age = (id: string) => sql.query(`update pgboss.job set started_on = now() - interval '1 minute' where id = $1`, [id]);

  beforeAll(async () => {
    const scratch = await createScratchDatabase(ADMIN_URL as string);
    url = scratch.url;
    cleanups.push(() => scratch.drop());
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
    cleanups.push(() => sql.end());
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('hands back a job with no live worker at once, and another worker then runs it', async () => {
    const dead = await open();
    const observer = await open();
    const id = (await dead.boss.send(QUEUE, { n: 1 })) as string;
    const [fetched] = await dead.boss.fetch(QUEUE); // taken, and then the worker "dies": no lease held
    expect(fetched?.id).toBe(id);
    expect(await observer.reapOrphans()).toEqual([]); // within the grace period: maybe still starting
    await age(id);
    const orphans = await observer.reapOrphans();
    expect(orphans).toEqual([{ id, name: QUEUE, data: { n: 1 }, givenUp: false }]);
    expect(heard).toContainEqual(orphans[0]);
    expect(await stateOf(id)).toMatchObject({ state: 'retry' });
    const output = await sql.query<{ output: { message: string } }>('select output from pgboss.job where id = $1', [id]);
    expect(output.rows[0]?.output.message).toBe(ORPHAN_REASON);

    // A live worker takes the retry and finishes it; nothing is handed back while it runs.
    const ran: string[] = [];
    let release!: () => void;
    const running = new Promise<void>((resolve) => (release = resolve));
    const live = await open();
    await live.boss.work(
      QUEUE,
      { batchSize: 1, pollingIntervalSeconds: 0.5 },
      live.leased(async (batch) => {
        ran.push(...batch.map((j) => j.id));
        await running;
      }),
    );
    for (let i = 0; i < 100 && ran.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(ran).toEqual([id]);
    await age(id); // however long it runs
    expect(await observer.reapOrphans()).toEqual([]);
    expect(await stateOf(id)).toMatchObject({ state: 'active', retry_count: 1 });
    release();
    for (let i = 0; i < 100 && (await stateOf(id))?.state !== 'completed'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await stateOf(id)).toMatchObject({ state: 'completed', retry_count: 1 });
    // Stop polling: a worker left on the queue would take the next tests' jobs before their "dead" one does.
    await live.boss.offWork(QUEUE);
    expect(errors).toEqual([]);
  });

  it('several processes looking at once hand one job back once', async () => {
    const dead = await open();
    const lookers = [await open(), await open(), await open()];
    const id = (await dead.boss.send(QUEUE, { n: 2 })) as string;
    expect((await dead.boss.fetch(QUEUE))[0]?.id).toBe(id);
    await age(id);
    const found = (await Promise.all(lookers.map((q) => q.reapOrphans()))).flat();
    expect(found.map((o) => o.id)).toEqual([id]);
    // Taken again at once (not after the queue's 10-minute retry delay), and once: its retry count is 1.
    const [again] = await dead.boss.fetch(QUEUE);
    expect(again?.id).toBe(id);
    expect(await stateOf(id)).toMatchObject({ state: 'active', retry_count: 1 });
    await dead.boss.complete(QUEUE, id);
  });

  it('with no retry left, the job fails and the hook hears it was given up', async () => {
    const dead = await open();
    const observer = await open();
    const id = (await dead.boss.send(QUEUE, { n: 3 }, { retryLimit: 0 })) as string;
    expect((await dead.boss.fetch(QUEUE))[0]?.id).toBe(id);
    await age(id);
    expect(await observer.reapOrphans()).toEqual([{ id, name: QUEUE, data: { n: 3 }, givenUp: true }]);
    expect(heard.at(-1)).toMatchObject({ id, givenUp: true });
    expect(await stateOf(id)).toMatchObject({ state: 'failed' });
  });

  it('jobs starting and ending at once share the lease connection one statement at a time', async () => {
    const queue = await open();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
      const done = await Promise.all(ids.map((id) => queue.leased(async (batch: { id: string }[]) => void batch)([{ id }])));
      expect(done).toHaveLength(8);
      // Each is held now (released a moment after its job): another process cannot take them.
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const { rows } = await other.query<{ n: string }>(
          `select count(*) as n from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid()`,
        );
        expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(8);
      } finally {
        await other.end();
      }
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.message)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('all open queues share one guard against lost connections, gone with the last queue', async () => {
    const before = process.listenerCount('unhandledRejection');
    const queues = [
      await openQueue(url, jobs, (e) => errors.push(e), [{ name: QUEUE }]),
      await openQueue(url, jobs, (e) => errors.push(e), [{ name: QUEUE }]),
    ];
    // The file's other queues are open too: at most one listener of ours.
    expect(process.listenerCount('unhandledRejection')).toBeLessThanOrEqual(before + 1);
    for (const q of queues) await q.close();
    expect(process.listenerCount('unhandledRejection')).toBeLessThanOrEqual(before);
  });
});
