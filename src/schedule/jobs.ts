/**
 * The schedule's slots as PostgreSQL jobs (queue `schedule-slot`): a daemon hands each slot that is
 * due (or worth catching up) to the queue, and any `llm-trading schedule` or `llm-trading worker`
 * process on the database runs it. The queue's policy is 'stately' keyed by portfolio and slot: a slot
 * is queued at most once and active at most once, so daemons handing it on every pass add nothing.
 * Whoever runs it claims it as a daemon does (daemon.ts runSlot: its lock, its schedule_runs row), so a
 * slot still runs once; a worker killed mid-slot leaves the job to expire and be retried elsewhere,
 * where the slot resumes (P3/P4's resume rules).
 *
 * The job carries the daemon's clock offset (`--now`), so a replay's catch-up policy is judged on the
 * replay's clock wherever the slot runs.
 */
import { z } from 'zod';
import type PgBoss from 'pg-boss';
import { openApp } from '../app.js';
import { WorkerApps } from '../jobs/worker-apps.js';
import type { AppConfig } from '../config/app-config.js';
import type { Env } from '../config/env.js';
import { openQueue, type JobQueue, type JobsConfig } from '../jobs/queue.js';
import { ORPHAN_REASON, type OrphanJob } from '../jobs/leases.js';
import type { Store } from '../storage/db.js';
import { runSlot, type ScheduleEvent } from './daemon.js';
import { scheduleSlots, type ScheduleSlot } from './plan.js';

export const SCHEDULE_QUEUE = 'schedule-slot';

const SlotJob = z.object({
  portfolio: z.string(),
  slot: z.string(),
  /** The New York date the slot is due on (to plan it again). */
  due_date: z.string(),
  offline: z.boolean(),
  allow_offline_seats: z.boolean(),
  /** The daemon's clock minus the wall clock, ms (0 unless replaying with --now). */
  clock_offset_ms: z.number(),
});
export type SlotJob = z.infer<typeof SlotJob>;

export const SCHEDULE_QUEUES = [{ name: SCHEDULE_QUEUE, policy: 'stately' }] as const;

export const openScheduleQueue = (
  databaseUrl: string,
  jobs: JobsConfig,
  onError: (error: Error) => void,
  log: (event: ScheduleEvent) => void,
): Promise<JobQueue> => openQueue(databaseUrl, jobs, onError, SCHEDULE_QUEUES, { onOrphan: onScheduleOrphan(log) });

/**
 * A slot job whose worker stopped (src/jobs/leases.ts) is handed back and runs again elsewhere, where
 * the slot resumes ('retrying'); with no retry left it stays failed in the queue ('failed').
 */
export function onScheduleOrphan(log: (event: ScheduleEvent) => void): (job: OrphanJob) => void {
  return (job) => {
    if (job.name !== SCHEDULE_QUEUE) return;
    const parsed = SlotJob.safeParse(job.data);
    log({
      event: job.givenUp ? 'failed' : 'retrying',
      at: (parsed.success ? jobClock(parsed.data) : new Date()).toISOString(),
      portfolio: parsed.success ? parsed.data.portfolio : '?',
      ...(parsed.success ? { slot: parsed.data.slot } : {}),
      detail: `job ${job.id}: ${ORPHAN_REASON}; ${job.givenUp ? 'no retry left' : 'handed back for a retry'}`,
    });
  };
}

/** The clock of the daemon that dispatched the job (`schedule --now` runs one ahead of or behind the wall clock). */
function jobClock(job: Pick<SlotJob, 'clock_offset_ms'>): Date {
  return new Date(Date.now() + job.clock_offset_ms);
}

export async function dispatchSlot(queue: JobQueue, job: SlotJob): Promise<void> {
  await queue.boss.send(SCHEDULE_QUEUE, job, { singletonKey: `${job.portfolio}:${job.slot}` });
}

export interface ScheduleWorkerOptions {
  store: Store;
  env: Env;
  config: AppConfig;
  lockTimeoutMs: number;
  log: (event: ScheduleEvent) => void;
  /** Slots this process runs at once (default 1). */
  slots?: number;
}

/** Consumes schedule jobs until stop(). */
export async function startScheduleWorker(
  queue: JobQueue,
  options: ScheduleWorkerOptions,
): Promise<{ stop(): Promise<void>; close(): Promise<void> }> {
  // One app per portfolio and agent mode, kept while the worker runs, closed when it stops (an app may
  // hold alpaca-mcp servers, child processes).
  type AppKey = Pick<SlotJob, 'portfolio' | 'offline' | 'allow_offline_seats'>;
  const apps = new WorkerApps((name) => {
    const key = JSON.parse(name) as AppKey;
    return openApp(options.env, options.config, {
      store: options.store,
      portfolio: key.portfolio,
      offline: key.offline,
      allowOfflineSeats: key.allow_offline_seats,
      lockTimeoutMs: options.lockTimeoutMs,
    });
  });
  const run = async (jobs: PgBoss.Job<unknown>[]) => {
    for (const raw of jobs) {
      const job = SlotJob.parse(raw.data);
      const slot = slotOfKey(options.config, job);
      if (!slot) throw new Error(`schedule job for an unknown slot ${job.slot} on ${job.due_date}`);
      const clock = () => jobClock(job);
      const key: AppKey = { portfolio: job.portfolio, offline: job.offline, allow_offline_seats: job.allow_offline_seats };
      // runSlot records the outcome; a failure it could not record (the database) fails the job.
      await apps.with(JSON.stringify(key), (app) => runSlot(app, slot, clock(), { log: options.log, clock }));
    }
  };
  const ids: string[] = [];
  for (let s = 0; s < (options.slots ?? 1); s++)
    ids.push(await queue.boss.work(SCHEDULE_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, queue.leased(run)));
  return {
    stop: async () => {
      for (const id of ids) await queue.boss.offWork({ id });
    },
    // After stop() and the queue's close: no slot is running.
    close: () => apps.closeAll(),
  };
}

function slotOfKey(config: AppConfig, job: SlotJob): ScheduleSlot | undefined {
  return scheduleSlots(config, job.due_date, job.due_date).find((s) => s.key === job.slot);
}
