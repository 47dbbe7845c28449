/**
 * `llm-trading worker`: works on the backtests (src/backtest/jobs.ts) and the schedule slots
 * (src/schedule/jobs.ts) of a PostgreSQL database until SIGINT/SIGTERM, on this machine or any other
 * with the same configuration. On the embedded database
 * a backtest runs in the process that started it: there is nothing to share.
 */
import { UsageError, type CliIo, type CommonOptions } from './io.js';
import { prepareConfig } from './commands.js';
import type { ScheduleEvent } from '../schedule/daemon.js';

export interface WorkerCommandOptions extends CommonOptions {
  workers?: number;
}

export async function worker(io: CliIo, options: WorkerCommandOptions, signal?: AbortSignal): Promise<void> {
  const prepared = await prepareConfig(io);
  const databaseUrl = prepared.env.databaseUrl;
  if (!databaseUrl)
    throw new UsageError(
      'a worker shares work through PostgreSQL: set DATABASE_URL (on the embedded database `llm-trading backtest` runs its weeks itself)',
    );
  const [
    { openStore, DEFAULT_LOCK_TIMEOUT_MS },
    { BACKTEST_QUEUES, startWorker, onBacktestOrphan },
    { SCHEDULE_QUEUES, startScheduleWorker, onScheduleOrphan },
    { openQueue },
  ] = await Promise.all([
    import('../storage/db.js'),
    import('../backtest/jobs.js'),
    import('../schedule/jobs.js'),
    import('../jobs/queue.js'),
  ]);
  const lockTimeoutMs = options.lockTimeout !== undefined ? options.lockTimeout * 1000 : DEFAULT_LOCK_TIMEOUT_MS;
  const store = await openStore({
    databaseUrl,
    home: prepared.env.home,
    pool: prepared.env.pool,
    lockTimeoutMs,
    command: 'llm-trading worker',
  });
  // The backtests' weeks are replayed from what was stored: their own connections need not wait for
  // the disk at each commit (db.ts). The schedule's slots trade live books: the durable store above.
  let backtestStore;
  try {
    backtestStore = await openStore({ databaseUrl, pool: prepared.env.pool, migrate: false, replayableWrites: true });
  } catch (error) {
    await store.close();
    throw error;
  }
  const log = (line: string) =>
    io.stderr(options.json ? `${JSON.stringify({ at: new Date().toISOString(), message: line })}\n` : `llm-trading worker: ${line}\n`);
  try {
    const scheduleLog = (e: ScheduleEvent) =>
      log(`schedule ${e.portfolio} ${e.event}${e.slot ? ` ${e.slot}` : ''}${e.detail ? `: ${e.detail}` : ''}`);
    const backtestOrphan = onBacktestOrphan(backtestStore.db, log);
    const scheduleOrphan = onScheduleOrphan(scheduleLog);
    const queue = await openQueue(
      databaseUrl,
      prepared.config.schedule.jobs,
      (e) => log(`job queue: ${e.message}`),
      [...BACKTEST_QUEUES, ...SCHEDULE_QUEUES],
      {
        onOrphan: async (job) => {
          await backtestOrphan(job);
          scheduleOrphan(job);
        },
      },
    );
    const slots = options.workers ?? 2;
    const common = { store, env: prepared.env, config: prepared.config, lockTimeoutMs };
    const backtestWork = await startWorker(queue, { ...common, store: backtestStore, slots, log, onJobDone: log });
    const scheduleWork = await startScheduleWorker(queue, { ...common, log: scheduleLog });
    log(`working on backtest jobs (${slots} decide slots) and schedule slots (${store.location}); stop with Ctrl-C or SIGTERM`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      if (signal) signal.addEventListener('abort', stop, { once: true });
      else {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }
    });
    log('stopping: finishing the jobs in hand (up to 30 s; a job cut short is retried by another worker)');
    await backtestWork.stop();
    await scheduleWork.stop();
    try {
      await queue.close();
    } finally {
      await backtestWork.close();
      await scheduleWork.close();
    }
    log('stopped');
  } finally {
    try {
      await backtestStore.close();
    } finally {
      await store.close();
    }
  }
}
