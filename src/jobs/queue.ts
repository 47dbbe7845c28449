/**
 * PostgreSQL's job queue (pg-boss, schema `pgboss`, created on first use): the work that processes on
 * any number of machines share — a backtest's weeks (src/backtest/jobs.ts), the schedule's slots
 * (src/schedule/jobs.ts). Retries with backoff and expiry (a job still active after
 * jobs.expire_seconds is presumed lost with its worker and given to another) come from
 * config/schedule.yaml `jobs`. A worker that dies is noticed much sooner: its jobs' leases go with its
 * database connection, and every process on the queue hands such jobs back (leases.ts).
 */
import PgBoss from 'pg-boss';
import type { AppConfig } from '../config/app-config.js';
import { openLeases, type OrphanJob } from './leases.js';
import { describeError, isConnectionLoss } from '../errors.js';

export type JobsConfig = AppConfig['schedule']['jobs'];

export interface JobQueue {
  boss: PgBoss;
  jobs: JobsConfig;
  /** `handler` holding the lease of each job it is given (leases.ts): wrap every boss.work handler in it. */
  leased<J extends { id: string }>(handler: (jobs: J[]) => Promise<void>): (jobs: J[]) => Promise<void>;
  /** Hands back now the jobs whose worker is gone (the queue also does so every jobs.orphan_check_seconds). */
  reapOrphans(): Promise<OrphanJob[]>;
  close(): Promise<void>;
}

export interface QueueSpec {
  name: string;
  /** pg-boss's policy; 'stately' allows one job per key queued and one active. */
  policy?: PgBoss.QueuePolicy;
}

export interface QueueHooks {
  /** A job of a dead worker was handed back (or, with no retry left, failed): see leases.ts. */
  onOrphan?: (job: OrphanJob) => Promise<void> | void;
}

export async function openQueue(
  databaseUrl: string,
  jobs: JobsConfig,
  onError: (error: Error) => void,
  queues: readonly QueueSpec[],
  hooks: QueueHooks = {},
): Promise<JobQueue> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    max: 4,
    application_name: 'llm-trading-jobs',
    maintenanceIntervalSeconds: jobs.maintenance_seconds,
    monitorStateIntervalSeconds: Math.max(jobs.maintenance_seconds, 10),
  });
  // Once closing, errors are those of connections being torn down (a pooled client the server ends
  // after pool.end() resolved, e.g. when the database is dropped): not news. A failure of the stop
  // itself rejects close().
  let closing = false;
  boss.on('error', (error: Error) => {
    if (!closing) onError(error);
  });
  await boss.start();
  const options = {
    retryLimit: jobs.retry_limit,
    retryDelay: jobs.retry_delay_seconds,
    retryBackoff: true,
    expireInSeconds: jobs.expire_seconds,
  };
  for (const { name, policy } of queues) {
    const queue = { name, ...options, ...(policy ? { policy } : {}) };
    // Processes starting together on a new database declare the same queues at once: pg-boss's
    // create_queue can then lose a deadlock or a race to the other, which has made the queue.
    for (let attempt = 1; ; attempt++) {
      try {
        if (await boss.getQueue(name)) await boss.updateQueue(name, queue);
        else await boss.createQueue(name, queue);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 100));
      }
    }
  }
  const reportLoss = (reason: unknown) => {
    if (!closing) onError(new Error(`the database connection was lost: ${describeError(reason)}`));
  };
  guardLostConnections(reportLoss);
  const leases = openLeases(databaseUrl, (error) => {
    if (!closing) onError(error);
  });
  const names = queues.map((q) => q.name);
  const reapOrphans = async (): Promise<OrphanJob[]> => {
    const orphans = await leases.reap(names, (name, id, reason) => boss.fail(name, id, { message: reason }));
    for (const orphan of orphans) await hooks.onOrphan?.(orphan);
    return orphans;
  };
  // One look at a time: two would take the same lease on the one connection (advisory locks are
  // reentrant) and could hand one job back twice.
  let looking: Promise<OrphanJob[]> | null = null;
  const look = (): Promise<OrphanJob[]> => (looking ??= reapOrphans().finally(() => (looking = null)));
  const timer = setInterval(() => {
    look().catch((error: Error) => {
      if (!closing) onError(new Error(`looking for jobs of stopped workers: ${error.message}`));
    });
  }, jobs.orphan_check_seconds * 1000);
  timer.unref();
  return {
    boss,
    jobs,
    leased: (handler) => (batch) =>
      leases.hold(
        batch.map((job) => job.id),
        () => handler(batch),
      ),
    reapOrphans: look,
    close: async () => {
      closing = true;
      clearInterval(timer);
      await looking?.catch(() => undefined);
      try {
        await boss.stop({ graceful: true, wait: true, timeout: 30_000 });
      } finally {
        await leases.close();
        unguardLostConnections(reportLoss);
      }
    },
  };
}

/**
 * pg-boss 10 records a job's outcome without awaiting it (manager.js work(): complete/fail); with the
 * server gone (a restart), that rejection would end the process. While a queue is open, a lost
 * connection is news for the log (the first open queue's), and the job's lease brings the job back
 * if its outcome was not recorded. Anything else unhandled is thrown on, as Node would. One listener
 * for all the queues a process has open.
 */
const lossReporters = new Set<(reason: unknown) => void>();

function onUnhandledRejection(reason: unknown): void {
  const report = lossReporters.values().next().value;
  if (!report || !isConnectionLoss(reason)) throw reason;
  report(reason);
}

function guardLostConnections(report: (reason: unknown) => void): void {
  if (lossReporters.size === 0) process.on('unhandledRejection', onUnhandledRejection);
  lossReporters.add(report);
}

function unguardLostConnections(report: (reason: unknown) => void): void {
  lossReporters.delete(report);
  if (lossReporters.size === 0) process.off('unhandledRejection', onUnhandledRejection);
}
