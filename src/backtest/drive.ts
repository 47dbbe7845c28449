/**
 * `llm-trading backtest` from start to report: opens (or continues) the backtest, has its weeks
 * worked — in this process on the embedded database, as jobs on PostgreSQL — watches the progress,
 * and returns the finished run for the report.
 */
import type { App } from '../app.js';
import type { WeekInfo } from '../council/week.js';
import {
  backtestProgress,
  backtestProgressHere,
  backtestRow,
  BacktestError,
  completedRun,
  openBacktest,
  type BacktestProgress,
  type BacktestRow,
  type BacktestRun,
  type BacktestSettings,
} from './backtest.js';
import { v8Collector } from './heap-pulse.js';
import { runBacktestInProcess } from './in-process.js';
import { LockTimeoutError } from '../storage/locks.js';
import { describeError, isConnectionLoss } from '../errors.js';

export interface DriveOptions {
  settings: BacktestSettings;
  /**
   * Embedded database: weeks deciding at once in this process. PostgreSQL: decide jobs this process
   * runs at once (0: only enqueue, and wait for `llm-trading worker` processes).
   */
  workers: number;
  /** PostgreSQL only: run in this process without the job queue. */
  inProcess?: boolean;
  /** Told as weeks are booked (on the queue: as this process's jobs finish, and every pollMs). */
  onProgress?: (progress: BacktestProgress) => void;
  /** Told once the backtest is opened (or continued), before any week runs. */
  onStart?: (row: BacktestRow) => void;
  /** Lines worth telling the user (workers' retries, the queue's errors). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** How often the queue's progress is read (ms), besides when a job of this process finishes. */
  pollMs?: number;
}

/** How long a finished backtest waits for its worker's jobs in hand before it closes the queue. */
const IDLE_WAIT_MS = 5_000;
/** How long a backtest waiting on the queue waits for a database it cannot reach before it gives up. */
const UNREACHABLE_FOR_MS = 120_000;

export const backtestLockName = (name: string) => `backtest:${name}`;

/** Whether a process is driving the backtest now (a `backtest` command holds its lock). */
export async function isDriven(app: App, name: string): Promise<boolean> {
  try {
    const release = await app.store.locks.acquire(backtestLockName(name), { timeoutMs: 0 });
    await release();
    return false;
  } catch (error) {
    if (error instanceof LockTimeoutError) return true;
    throw error;
  }
}

export async function driveBacktest(app: App, name: string, weeks: readonly WeekInfo[], options: DriveOptions): Promise<BacktestRun> {
  let release;
  try {
    release = await app.store.locks.acquire(backtestLockName(name), { timeoutMs: 0 });
  } catch (error) {
    if (error instanceof LockTimeoutError)
      throw new BacktestError(
        `backtest ${name} is being run by another process: watch it with \`llm-trading backtests\`, or add workers (\`llm-trading worker\`)`,
      );
    throw error;
  }
  try {
    return await drive(app, name, weeks, options);
  } finally {
    await release();
  }
}

async function drive(app: App, name: string, weeks: readonly WeekInfo[], options: DriveOptions): Promise<BacktestRun> {
  const row = await openBacktest(app, name, weeks, options.settings);
  const resumed = row.weeksDone;
  options.onStart?.(row);
  const progress = async () => {
    const now = await backtestRow(app.store.db, name);
    if (now) options.onProgress?.(await backtestProgress(app.store.db, now));
    return now;
  };
  if (row.weeksDone < weeks.length) {
    if (app.store.kind === 'postgres' && !options.inProcess) await viaJobQueue(app, row, weeks, options, progress);
    else
      await runBacktestInProcess(app, row, weeks, {
        concurrency: options.workers,
        onWeek: async (weeksNow) => {
          options.onProgress?.(await backtestProgressHere(app.store.db, row, weeksNow));
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
  }
  const done = await backtestRow(app.store.db, name);
  if (!done) throw new BacktestError(`backtest ${name} disappeared while it ran`);
  // The report reads every week's postmortem at once: it starts from the live heap, not from the
  // last weeks' garbage (the run's peak was here; measured on the bundled range: 385 → 367 MB).
  v8Collector()?.();
  return completedRun(app, done, weeks, resumed);
}

async function viaJobQueue(
  app: App,
  row: BacktestRow,
  weeks: readonly WeekInfo[],
  options: DriveOptions,
  progress: () => Promise<BacktestRow | null>,
): Promise<void> {
  const { openJobQueue, enqueueBacktest, startWorker, onBacktestOrphan } = await import('./jobs.js');
  const log = options.log ?? (() => undefined);
  const databaseUrl = app.env.databaseUrl;
  if (!databaseUrl) throw new BacktestError('the job queue needs DATABASE_URL');
  const queue = await openJobQueue(
    databaseUrl,
    app.config.schedule.jobs,
    (e) => log(`job queue: ${e.message}`),
    onBacktestOrphan(app.store.db, log),
  );
  let worker: Awaited<ReturnType<typeof startWorker>> | null = null;
  const poll = new PollWait();
  try {
    await enqueueBacktest(queue, row, weeks);
    if (options.workers > 0)
      worker = await startWorker(queue, {
        store: app.store,
        env: app.env,
        config: app.config,
        slots: options.workers,
        lockTimeoutMs: app.lockTimeoutMs,
        // Its own backtest's jobs use this app (the same store, portfolio and settings) instead of a second one.
        driven: { name: row.name, app },
        log,
        // A job of this process's worker done: read the progress now. The last books job above all:
        // the run ends when its last week is booked, not up to a poll interval later.
        onJobDone: () => poll.wake(),
      });
    else log(`backtest ${row.name}: jobs enqueued; waiting for \`llm-trading worker\` processes on this database`);
    let unreachableSince: number | null = null;
    for (;;) {
      options.signal?.throwIfAborted();
      let now: BacktestRow | null;
      try {
        now = await progress();
        unreachableSince = null;
      } catch (error) {
        // The database restarting under a backtest the workers carry on with: wait for it a while.
        if (!isConnectionLoss(error)) throw error;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > UNREACHABLE_FOR_MS) throw error;
        log(`backtest ${row.name}: the database is unreachable (${describeError(error)}); trying again`);
        await poll.wait(1000, options.signal);
        continue;
      }
      if (!now) throw new BacktestError(`backtest ${row.name} disappeared while it ran`);
      if (now.status === 'failed') throw new BacktestError(`backtest ${row.name} failed: ${now.error ?? 'see the workers\u2019 logs'}`);
      if (now.weeksDone >= weeks.length) {
        // The last books job may still be finishing (it woke this loop): the queue's graceful close
        // would find it running and look again only 500 ms later. A job of another backtest this
        // worker also took may run much longer: that one is left to the close (which waits up to
        // 30 s, then fails it, to be retried by another worker), as before.
        if (worker) {
          await worker.stop();
          await idleOrTimeout(worker, IDLE_WAIT_MS, options.signal);
        }
        return;
      }
      await poll.wait(options.pollMs ?? 500, options.signal);
    }
  } finally {
    if (worker) await worker.stop();
    try {
      await queue.close();
    } finally {
      await worker?.close();
    }
  }
}

/** Waits for the worker to be idle, at most `ms` (less if the signal aborts): a pause the worker ends. */
export async function idleOrTimeout(worker: { idle(): Promise<void> }, ms: number, signal?: AbortSignal): Promise<void> {
  const pause = new PollWait();
  void worker.idle().then(() => pause.wake());
  await pause.wait(ms, signal);
}

/**
 * The progress loop's pause: `ms`, or less when woken or when the signal aborts (the caller checks
 * it). A wake while no pause is under way (the loop is reading) ends the next pause at once: the job
 * may have finished after that read.
 */
export class PollWait {
  #wake: (() => void) | null = null;
  #woken = false;

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#woken || signal?.aborted) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  wake(): void {
    if (this.#wake) this.#wake();
    else this.#woken = true;
  }
}
