/**
 * PostgreSQL's job queue (pg-boss, schema `pgboss`, created on first use): the work that processes on
 * any number of machines share — a backtest's weeks (src/backtest/jobs.ts), the schedule's slots
 * (src/schedule/jobs.ts). Retries with backoff and expiry (a job still active after
 * jobs.expire_seconds is presumed lost with its worker and given to another) come from
 * config/schedule.yaml `jobs`.
 */
import PgBoss from 'pg-boss';
import type { AppConfig } from '../config/app-config.js';

export type JobsConfig = AppConfig['schedule']['jobs'];

export interface JobQueue {
  boss: PgBoss;
  jobs: JobsConfig;
  close(): Promise<void>;
}

export interface QueueSpec {
  name: string;
  /** pg-boss's policy; 'stately' allows one job per key queued and one active. */
  policy?: PgBoss.QueuePolicy;
}

export async function openQueue(
  databaseUrl: string,
  jobs: JobsConfig,
  onError: (error: Error) => void,
  queues: readonly QueueSpec[],
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
  return {
    boss,
    jobs,
    close: () => {
      closing = true;
      return boss.stop({ graceful: true, wait: true, timeout: 30_000 });
    },
  };
}
