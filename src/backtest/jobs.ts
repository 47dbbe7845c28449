/**
 * A backtest as jobs in PostgreSQL's job queue (pg-boss), shared by every process on the database:
 * `llm-trading backtest` enqueues them (and works on them itself), `llm-trading worker` processes on
 * any number of machines join in.
 *
 *   backtest-decide  {backtest, week_id}      one week's decision stages; one job per week, all
 *                                             enqueued at once, taken `slots` at a time per worker.
 *   backtest-books   {backtest, from_index}   the books from week `from_index` on, in order, for about
 *                                             jobs.books_chunk_seconds, then a new job for the rest.
 *
 * A books job that reaches a week whose decisions no job has made yet makes them itself (the week's
 * lock keeps a decide job and a books job from doing one week twice), so the books never wait on the
 * queue. Job ids derive from (backtest, run, week): the same run enqueueing twice adds nothing.
 *
 * A worker killed mid-job: its job stays active until jobs.expire_seconds, then pg-boss gives it to
 * another worker, which resumes the week where the killed one stopped (P3/P4's resume rules, P3's
 * order identity: nothing is placed twice). A job that keeps failing marks the backtest failed with
 * its error after jobs.retry_limit retries; an error the user must fix (UserError) does so at once.
 */
import { createHash } from 'node:crypto';
import type PgBoss from 'pg-boss';
import { openQueue, type JobQueue, type JobsConfig, type QueueHooks } from '../jobs/queue.js';
import { ORPHAN_REASON, type OrphanJob } from '../jobs/leases.js';
import { z } from 'zod';
import { openApp, type App } from '../app.js';
import type { AppConfig } from '../config/app-config.js';
import type { Env } from '../config/env.js';
import { weekOf, type WeekInfo } from '../council/week.js';
import { addDays } from '../market/calendar.js';
import { describeError, UserError } from '../errors.js';
import type { Db, Store } from '../storage/db.js';
import {
  backtestRow,
  BacktestError,
  bookWeek,
  configDigest,
  decideWeek,
  failBacktest,
  isEarlierRun,
  ofRun,
  type BacktestRow,
  type BacktestSettings,
  weeksBetween,
} from './backtest.js';
import { backtests } from '../storage/schema.js';
import { and, eq } from 'drizzle-orm';
import { createHeapPulse } from './heap-pulse.js';
import { WorkerApps } from '../jobs/worker-apps.js';

export const DECIDE_QUEUE = 'backtest-decide';
export const BOOKS_QUEUE = 'backtest-books';

/**
 * `run`: the backtest's run that enqueued the job (a new one each time the command starts or continues
 * it; the row's `run`). Decide jobs enqueued before the row kept its run (migration 0011) carry none: they count as the current run's.
 */
const DecideJob = z.object({ backtest: z.string(), week_id: z.string(), run: z.string().optional() });
const BooksJob = z.object({ backtest: z.string(), from_index: z.number().int().min(0), run: z.string() });
type DecideJob = z.infer<typeof DecideJob>;
type BooksJob = z.infer<typeof BooksJob>;

export type { JobQueue } from '../jobs/queue.js';

/** Connects to the queue and declares the backtest queues. */
export const BACKTEST_QUEUES = [{ name: DECIDE_QUEUE }, { name: BOOKS_QUEUE }] as const;

export const openJobQueue = (
  databaseUrl: string,
  jobs: JobsConfig,
  onError: (error: Error) => void,
  onOrphan?: QueueHooks['onOrphan'],
): Promise<JobQueue> => openQueue(databaseUrl, jobs, onError, BACKTEST_QUEUES, onOrphan ? { onOrphan } : {});

/**
 * What a process on the queue does with a backtest job whose worker stopped (src/jobs/leases.ts): says
 * so; and when the job had no retry left, fails the backtest with the reason, as a job failing for the
 * last time does (the command waiting for it stops).
 */
export function onBacktestOrphan(db: Db, log: (line: string) => void): (job: OrphanJob) => Promise<void> {
  return async (job) => {
    if (job.name !== DECIDE_QUEUE && job.name !== BOOKS_QUEUE) return;
    const parsed = DecideJob.pick({ backtest: true, run: true }).safeParse(job.data); // books jobs name both too
    const name = parsed.success ? parsed.data.backtest : '?';
    const what = `job ${job.name}: ${ORPHAN_REASON}`;
    log(`backtest ${name}: ${what}; ${job.givenUp ? 'no retry left' : 'handed back for a retry'}`);
    if (job.givenUp && parsed.success) await failBacktest(db, name, `${what}, with no retry left`, parsed.data.run);
  };
}

/** A job id (a UUID, as pg-boss wants) that names what the job does: the same work, the same id. */
function jobId(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Enqueues the decisions of every week not booked yet and the books from the first of them. Each
 * start (or continuation) of the backtest is a run of its own: jobs a failed run left behind (failed in
 * the queue, where pg-boss keeps them) do not block the new run's, whose ids differ; a leftover job
 * that still runs only finds its week done (the week's lock, the books' count).
 */
export async function enqueueBacktest(queue: JobQueue, row: BacktestRow, weeks: readonly WeekInfo[]): Promise<void> {
  const rest = weeks.slice(row.weeksDone);
  if (rest.length === 0) return;
  const run = row.run ?? new Date().toISOString();
  await queue.boss.insert(
    rest.map((w, i) => ({
      id: jobId(row.name, run, 'decide', w.week_id),
      name: DECIDE_QUEUE,
      data: { backtest: row.name, week_id: w.week_id, run },
      // Taken in week order, as the books need them. pg-boss takes the highest priority first, then
      // the oldest, then the lowest id; jobs inserted together are equally old and their ids are
      // hashes, so without this the weeks were decided in random order and the books waited.
      priority: rest.length - i,
    })),
  );
  await sendBooks(queue, { backtest: row.name, from_index: row.weeksDone, run });
}

async function sendBooks(queue: JobQueue, job: BooksJob): Promise<void> {
  await queue.boss.send(BOOKS_QUEUE, job, { id: jobId(job.backtest, job.run, 'books', job.from_index) });
}

export interface WorkerOptions {
  store: Store;
  env: Env;
  config: AppConfig;
  /** Decide jobs this process runs at once (the books queue always has one consumer of its own). */
  slots: number;
  lockTimeoutMs: number;
  log: (line: string) => void;
  /** Told of every job done (the worker command prints them; a `backtest` command's own worker does not). */
  onJobDone?: (line: string) => void;
  /** The backtest this process drives, with its app: its jobs here use that app (the caller closes it). */
  driven?: { name: string; app: App };
}

export interface Worker {
  /** Stops taking jobs; a books job in hand books no further week and hands the rest to a new job. */
  stop(): Promise<void>;
  /** Resolves when no job of this worker is running (after stop(): none will start). */
  idle(): Promise<void>;
  /** After stop() and the queue's close (no job running): closes the apps still open. */
  close(): Promise<void>;
  /** The backtests whose app this worker has open. */
  openApps(): number;
}

/** Consumes backtest jobs until stop(): `slots` decide jobs at a time, and books jobs one at a time. */
export async function startWorker(queue: JobQueue, options: WorkerOptions): Promise<Worker> {
  const apps = new WorkerApps(async (name) => {
    const row = await backtestRow(options.store.db, name);
    if (!row) throw new BacktestError(`backtest ${name} no longer exists`);
    const settings = (row.settings ?? { offline: row.mode === 'offline', allow_offline_seats: false }) as BacktestSettings;
    return openApp(options.env, options.config, {
      store: options.store,
      portfolio: row.portfolio,
      portfolioKind: 'backtest',
      offline: settings.offline,
      allowOfflineSeats: settings.allow_offline_seats,
      ...(settings.budget_usd !== undefined ? { backtestBudgetUsd: settings.budget_usd } : {}),
      lockTimeoutMs: options.lockTimeoutMs,
    });
  });
  if (options.driven) apps.lend(options.driven.name, options.driven.app);
  const digest = configDigest(options.config);

  /**
   * Runs `work` on the backtest with its app if the backtest is still to be worked on by this process;
   * a backtest done, failed or deleted has its app closed here (its jobs are moot).
   */
  const withRunnable = async (
    name: string,
    run: string | undefined,
    work: (row: BacktestRow, app: App) => Promise<void>,
    moot: (row: BacktestRow) => boolean = () => false,
  ): Promise<void> => {
    const row = await backtestRow(options.store.db, name);
    if (!row || row.status !== 'running') {
      await apps.retire(name);
      return;
    }
    // Nothing to do, and no app to open for it. A job of an earlier run: the backtest was continued
    // (after a failure, or with a raised budget) and the current run has its own job for this work.
    if (isEarlierRun(row, run) || moot(row)) return;
    if (row.configDigest && row.configDigest !== digest)
      throw new BacktestError(
        `backtest ${name} was started with another configuration than this worker's (${options.config.dir}): run workers with the same config directory`,
      );
    // The app is opened from the row's settings: a backtest continued with others (a raised
    // --budget-usd) gets a new one, not the app that refused its calls.
    await apps.with(
      name,
      async (app) => {
        if (app.agents.mode !== row.mode)
          throw new BacktestError(`backtest ${name} runs ${row.mode} agents, this worker would run ${app.agents.mode} (check its keys)`);
        await work(row, app);
      },
      JSON.stringify(row.settings ?? null),
    );
  };

  /** A job failed: the backtest (if the job is of its current run) fails, or records the error before the retry. */
  const settle = async (name: string, run: string | undefined, job: PgBoss.JobWithMetadata<unknown>, error: unknown): Promise<void> => {
    const message = describeError(error);
    const final = error instanceof UserError || job.retryCount >= job.retryLimit;
    options.log(`backtest ${name}: job ${job.name} ${final ? 'failed' : `failed (attempt ${job.retryCount + 1}, will retry)`}: ${message}`);
    if (final) await failBacktest(options.store.db, name, message, run);
    else
      await options.store.db
        .update(backtests)
        .set({ error: message, updatedAt: new Date() })
        .where(and(eq(backtests.name, name), ofRun(run)));
  };

  const decide = async (job: PgBoss.JobWithMetadata<unknown>): Promise<void> => {
    const data: DecideJob = DecideJob.parse(job.data);
    try {
      await withRunnable(
        data.backtest,
        data.run,
        async (_row, app) => {
          await decideWeek(app, weekOf(data.week_id, options.config));
          options.onJobDone?.(`backtest ${data.backtest}: decided the week of ${data.week_id}`);
        },
        // Booked already (the books decided it themselves, not waiting for this job): weeks are 7 days apart.
        (row) => data.week_id < addDays(row.fromWeek, 7 * row.weeksDone),
      );
    } catch (error) {
      await settle(data.backtest, data.run, job, error);
      if (!(error instanceof UserError)) throw error;
    }
  };

  // One per worker process: its book jobs follow one another, each many weeks long.
  const heap = createHeapPulse();
  const books = async (job: PgBoss.JobWithMetadata<unknown>): Promise<void> => {
    const data: BooksJob = BooksJob.parse(job.data);
    try {
      await withRunnable(data.backtest, data.run, async (row, app) => {
        const weeks = weeksBetween(options.config, row.fromWeek, row.toWeek);
        const until = performance.now() + queue.jobs.books_chunk_seconds * 1000;
        // Another job may have gone further (a retried job that had already handed on): start there.
        // A worker told to stop books no further week: the rest goes to a new job, for whoever comes next.
        let i = Math.max(data.from_index, row.weeksDone);
        let superseded: 'continued' | 'stopped' | null = null;
        for (; i < weeks.length && performance.now() < until && !stopping; i++) {
          await bookWeek(app, row.name, i, weeks[i] as WeekInfo);
          heap.afterWeek();
          // Failed, deleted or continued as a new run since this job started (a week at most ago): the
          // backtest is no longer this job's to book. One read a week, against a week's ~90 statements.
          const now = await backtestRow(options.store.db, row.name);
          if (now?.status !== 'running' || isEarlierRun(now, data.run)) {
            superseded = now?.status === 'running' ? 'continued' : 'stopped';
            i++;
            break;
          }
        }
        const from = Math.max(data.from_index, row.weeksDone);
        if (i > from) options.onJobDone?.(`backtest ${row.name}: booked the weeks of ${weeks[from]?.week_id}..${weeks[i - 1]?.week_id}`);
        // Continued: the new run's own books job goes on from the count.
        if (superseded === 'continued') return;
        if (superseded === null && i < weeks.length) await sendBooks(queue, { backtest: row.name, from_index: i, run: data.run });
        // The last week is booked, or the backtest stopped: nothing more of it for this process.
        else await apps.retire(row.name);
      });
    } catch (error) {
      await settle(data.backtest, data.run, job, error);
      if (!(error instanceof UserError)) throw error;
    }
  };

  const ids: string[] = [];
  let stopping = false;
  const work = { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true as const };
  let running = 0;
  let whenIdle: (() => void)[] = [];
  const each = (handler: (job: PgBoss.JobWithMetadata<unknown>) => Promise<void>) => async (jobs: PgBoss.JobWithMetadata<unknown>[]) => {
    running++;
    try {
      for (const job of jobs) await handler(job);
    } finally {
      if (--running === 0) {
        const waiting = whenIdle;
        whenIdle = [];
        for (const resolve of waiting) resolve();
      }
    }
  };
  ids.push(await queue.boss.work(BOOKS_QUEUE, work, queue.leased(each(books))));
  for (let s = 0; s < options.slots; s++) ids.push(await queue.boss.work(DECIDE_QUEUE, work, queue.leased(each(decide))));
  return {
    // Stops taking jobs, and a books job in hand at its next week (it hands the rest on); the caller
    // then closes the queue, which finishes the jobs in hand (up to 30 s; then they are failed, to be
    // retried), and then closes the worker.
    stop: async () => {
      stopping = true;
      for (const id of ids) await queue.boss.offWork({ id });
    },
    idle: () => (running === 0 ? Promise.resolve() : new Promise((resolve) => whenIdle.push(resolve))),
    close: () => apps.closeAll(),
    openApps: () => apps.size,
  };
}
