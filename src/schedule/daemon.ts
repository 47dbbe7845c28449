/**
 * The schedule daemon (`llm-trading schedule`): every slot of the portfolio's schedule (plan.ts) run
 * at its time, missed ones caught up or skipped by the policy (policy.ts), each recorded once in
 * schedule_runs.
 *
 * Nothing missed, nothing twice:
 *   - a slot is claimed under a lock named after it (`schedule:<portfolio>:<slot>`: an advisory lock
 *     on PostgreSQL, so a second daemon on the database skips what the first is running; on the
 *     embedded database one process holds the database), then looked up: completed or skipped slots
 *     are done; a slot left 'running' by a daemon that died is run again, and resumes where it stopped
 *     (the week, a checkpoint and their orders resume by P3/P4's rules: nothing is placed twice);
 *   - a run that fails for a reason the user must fix (UserError) is recorded failed; any other
 *     failure is retried with backoff (jobs.retry_delay_seconds doubling, jobs.retry_limit times, timed
 *     on the daemon's clock, which wakes for it) while the slot is still useful;
 *   - a pass that fails (the database away) is logged and tried again after a doubling delay: the
 *     daemon stays up;
 *   - the clock is injected: tests drive days of schedule without waiting.
 * SIGTERM/SIGINT abort the signal: the run in progress stops at its next safe point (its stage or
 * account is left to resume), its locks are released, and the daemon exits.
 */
import { and, desc, eq, gte, lte } from 'drizzle-orm';
import type { App } from '../app.js';
import { runCheckpoint } from '../checkpoint/engine.js';
import { sleep } from '../ports/clock.js';
import { slotOf } from '../checkpoint/schedule.js';
import { STAGES } from '../council/stage.js';
import { runWeek } from '../council/weekly.js';
import { describeError, UserError } from '../errors.js';
import { etIso, utcToEt } from '../market/calendar.js';
import { runPostmortem } from '../metrics/postmortem.js';
import { ofRun } from '../storage/run-key.js';
import { scheduleRuns, stageRuns } from '../storage/schema.js';
import { LockTimeoutError } from '../storage/locks.js';
import { catchUp } from './policy.js';
import { scheduleSlots, slotsBetween, type ScheduleSlot } from './plan.js';

export interface DaemonClock {
  now(): Date;
  /** Waits `ms`, or less when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const wallClock: DaemonClock = {
  now: () => new Date(),
  sleep,
};

export type ScheduleEventKind = 'started' | 'completed' | 'failed' | 'retrying' | 'skipped' | 'busy' | 'waiting' | 'stopped';

/** One line of the daemon's log (plain or `--log-format json`). */
export interface ScheduleEvent {
  event: ScheduleEventKind;
  /** The daemon's clock when it happened (ISO UTC). */
  at: string;
  portfolio: string;
  slot?: string;
  kind?: ScheduleSlot['kind'];
  week_id?: string;
  due_et?: string;
  due_utc?: string;
  late?: boolean;
  detail?: string;
}

export interface DaemonOptions {
  clock: DaemonClock;
  signal: AbortSignal;
  log: (event: ScheduleEvent) => void;
  /** Told after every pass (health checks). */
  onPass?: (pass: { at: Date; next: ScheduleSlot | null }) => void;
  /** The longest sleep between passes (ms; the daemon re-plans after it). */
  maxSleepMs?: number;
  /** PostgreSQL: hand due slots to the job queue instead of running them here (jobs.ts). */
  dispatch?: (slot: ScheduleSlot) => Promise<void>;
  /**
   * Before every pass, e.g. reading Alpaca's calendar again (a `data sync` since the daemon started
   * may have changed a day). A failure is logged and the pass goes on with what was in place.
   */
  beforePass?: () => Promise<void>;
}

type RunRow = typeof scheduleRuns.$inferSelect;

/** The longest wait before a pass that failed is tried again (the delay doubles from jobs.retry_delay_seconds). */
const MAX_PASS_DELAY_MS = 300_000;

/** Runs the schedule until the signal aborts. */
export async function runDaemon(app: App, options: DaemonOptions): Promise<void> {
  const { clock, signal, log } = options;
  log(event(app, clock.now(), 'started', undefined, `catch-up window ${app.config.schedule.catch_up.window_days} days`));
  let failedPasses = 0;
  while (!signal.aborted) {
    if (options.beforePass)
      await options
        .beforePass()
        .catch((error: unknown) =>
          log(
            event(app, clock.now(), 'failed', undefined, `before the pass: ${describeError(error)}; going on with the calendar in place`),
          ),
        );
    let pass: PassOutcome;
    try {
      pass = await runDue(app, clock.now(), {
        log,
        signal,
        clock: () => clock.now(),
        ...(options.dispatch ? { dispatch: options.dispatch } : {}),
      });
      failedPasses = 0;
    } catch (error) {
      // The database went away (a restart, the network, a full disk): a daemon stays up and tries again;
      // a slot left running is resumed by the next pass.
      if (signal.aborted) break;
      const delay = Math.min(MAX_PASS_DELAY_MS, backoffMs(app, failedPasses++));
      log(event(app, clock.now(), 'failed', undefined, `the pass failed: ${describeError(error)}; trying again in ${delay / 1000} s`));
      await clock.sleep(delay, signal);
      continue;
    }
    if (signal.aborted) break;
    const now = clock.now();
    const next = await nextSlot(app, now);
    options.onPass?.({ at: now, next });
    // The next slot wakes the daemon, or a failed slot's retry when that comes first; a deferred slot
    // is looked at again in a minute.
    const wait = Math.min(
      next ? next.at.getTime() - now.getTime() : Infinity,
      pass.retryAt !== null ? pass.retryAt - now.getTime() : Infinity,
      pass.deferred ? 60_000 : (options.maxSleepMs ?? 3_600_000),
    );
    if (next) log(event(app, now, 'waiting', next, `next: ${next.kind} due ${etIso(next.date, next.time)}`));
    await clock.sleep(Math.max(0, wait), signal);
  }
  log(event(app, clock.now(), 'stopped'));
}

export interface SlotOptions {
  log: (e: ScheduleEvent) => void;
  signal?: AbortSignal;
  dispatch?: (slot: ScheduleSlot) => Promise<void>;
  /**
   * The clock a slot's outcome is stamped with (its row's finished_at, from which a retry is timed, and
   * the log line); default the wall clock. `now` is the pass's time, when the slot started.
   */
  clock?: () => Date;
}

export interface PassOutcome {
  /** A slot was deferred (a checkpoint waiting for its week's weekly run still running) or dispatched. */
  deferred: boolean;
  /** When the earliest slot that failed and is to be retried may run again (epoch ms), or null. */
  retryAt: number | null;
}

/** One pass: every slot due by `now` within the look-back window that is not done, in time order. */
export async function runDue(app: App, now: Date, options: SlotOptions): Promise<PassOutcome> {
  const from = new Date(now.getTime() - app.config.schedule.catch_up.window_days * 86_400_000);
  const rows = await runRows(app, from, now);
  let deferred = false;
  let retrying = false;
  for (const slot of slotsBetween(app.config, from, now)) {
    if (options.signal?.aborted) break;
    const row = rows.get(slot.key);
    if (row && (row.status === 'completed' || row.status === 'skipped' || row.status === 'failed')) continue;
    if (row?.status === 'retrying' && now.getTime() < retryAt(app, row)) {
      retrying = true;
      continue;
    }
    const outcome = await runSlot(app, slot, now, options);
    // Handed to the job queue: whoever takes it runs it (runSlot again); the next pass looks again.
    if (outcome === 'dispatch') await options.dispatch?.(slot);
    if (outcome === 'deferred' || outcome === 'dispatch') deferred = true;
    if (outcome === 'retrying') retrying = true;
  }
  if (!retrying) return { deferred, retryAt: null };
  // Read again: a slot that failed in this pass has its row's finished_at and attempts only now.
  const after = [...(await runRows(app, from, now)).values()].filter((r) => r.status === 'retrying').map((r) => retryAt(app, r));
  return { deferred, retryAt: after.length > 0 ? Math.min(...after) : null };
}

/**
 * Runs one slot, as the daemon or a worker does: claims it under its lock, looks it up, applies the
 * calendar and the catch-up policy, runs it and records the outcome.
 */
export async function runSlot(
  app: App,
  slot: ScheduleSlot,
  now: Date,
  options: SlotOptions,
): Promise<'deferred' | 'dispatch' | 'retrying' | void> {
  const { log } = options;
  const clock = options.clock ?? (() => new Date());
  let release;
  try {
    release = await app.store.locks.acquire(`schedule:${app.portfolio}:${slot.key}`, { timeoutMs: 0 });
  } catch (error) {
    if (error instanceof LockTimeoutError) return log(event(app, now, 'busy', slot, 'another daemon is running it'));
    throw error;
  }
  try {
    // Looked up again under the lock: another daemon may have finished it meanwhile.
    const [row] = await app.store.db
      .select()
      .from(scheduleRuns)
      .where(and(eq(scheduleRuns.portfolio, app.portfolio), eq(scheduleRuns.slot, slot.key)));
    if (row && row.status !== 'running' && row.status !== 'retrying') return;
    if (slot.skip) return await record(app, slot, now, 'skipped', slot.skip, log, row);
    if (slot.kind !== 'weekly' && !(await weekExecuted(app, slot.week.week_id))) {
      // Its weekly run may still be running (slow models, another daemon): then it waits for it.
      if (await weeklyPending(app, slot, now)) return 'deferred';
      return await record(app, slot, now, 'skipped', `the week of ${slot.week.week_id} was not executed in this portfolio`, log, row);
    }
    const verdict = catchUp(slot, now, app.config.schedule.catch_up);
    if (!verdict.run) return await record(app, slot, now, 'skipped', verdict.reason, log, row);
    // To run, but by the job queue (once this lock is released): what is skipped is recorded here.
    if (options.dispatch) return 'dispatch';
    const attempts = (row?.attempts ?? 0) + 1;
    await upsertRun(app, slot, { status: 'running', attempts, startedAt: now, detail: null });
    log({ ...event(app, now, 'started', slot), late: verdict.late });
    try {
      const detail = await execute(app, slot, options.signal);
      const finished = clock();
      await finish(app, slot, 'completed', detail, finished);
      log({ ...event(app, finished, 'completed', slot, detail), late: verdict.late });
    } catch (error) {
      if (options.signal?.aborted) return; // left 'running': the next start resumes it
      const final = error instanceof UserError || attempts > app.config.schedule.jobs.retry_limit;
      const detail = describeError(error);
      const finished = clock();
      await finish(app, slot, final ? 'failed' : 'retrying', detail, finished);
      log(event(app, finished, final ? 'failed' : 'retrying', slot, detail));
      if (!final) return 'retrying';
    }
  } finally {
    await release();
  }
}

/** Runs the slot's work; returns its outcome in a line. */
async function execute(app: App, slot: ScheduleSlot, signal: AbortSignal | undefined): Promise<string> {
  switch (slot.kind) {
    case 'weekly': {
      const { result, error } = await runWeek(app, slot.week, [...STAGES], signal ? { signal } : {}, () => undefined);
      if (error) throw error;
      return result.status === 'pending_open'
        ? `decided; ${result.pending_orders?.length ?? 0} orders wait for the ${slot.week.fill_date} open`
        : `${result.status}: ${result.accounts.map((a) => `${a.owner} ${a.trade ? `${a.trade.direction} ${a.trade.ticker}` : 'FLAT'}`).join(', ')}`;
    }
    case 'checkpoint': {
      const result = await runCheckpoint(app, slot.week, slotOf(slot.week, slot.date, slot.time), signal ? { signal } : {});
      if (result.status === 'skipped') return `skipped by the engine: ${result.reason ?? ''}`;
      const acted = result.updates.filter((u) => u.action !== 'STAY').map((u) => `${u.owner} ${u.action}`);
      return acted.length > 0 ? acted.join(', ') : `every account STAYs (${result.updates.length})`;
    }
    case 'postmortem': {
      const pm = await runPostmortem(app, slot.week);
      const council = pm.accounts.find((a) => a.owner === 'council');
      return `measured through ${pm.through}${council ? `; council ${(council.pnl_pct * 100).toFixed(2)}%` : ''}`;
    }
  }
}

async function record(
  app: App,
  slot: ScheduleSlot,
  now: Date,
  status: 'skipped',
  detail: string,
  log: (e: ScheduleEvent) => void,
  row: RunRow | undefined,
): Promise<void> {
  await upsertRun(app, slot, { status, attempts: row?.attempts ?? 0, detail, finishedAt: now });
  log(event(app, now, 'skipped', slot, detail));
}

/** The slot's row, created or updated with `set`. */
async function upsertRun(
  app: App,
  slot: ScheduleSlot,
  set: Pick<RunRow, 'status' | 'attempts' | 'detail'> & Partial<Pick<RunRow, 'startedAt' | 'finishedAt'>>,
): Promise<void> {
  await app.store.db
    .insert(scheduleRuns)
    .values({ portfolio: app.portfolio, slot: slot.key, kind: slot.kind, weekId: slot.week.week_id, dueAt: slot.at, ...set })
    .onConflictDoUpdate({ target: [scheduleRuns.portfolio, scheduleRuns.slot], set });
}

async function finish(
  app: App,
  slot: ScheduleSlot,
  status: 'completed' | 'failed' | 'retrying',
  detail: string,
  finishedAt: Date,
): Promise<void> {
  await app.store.db
    .update(scheduleRuns)
    .set({ status, detail, finishedAt })
    .where(and(eq(scheduleRuns.portfolio, app.portfolio), eq(scheduleRuns.slot, slot.key)));
}

/** Whether the week's weekly run is running or may still run (then its checkpoints wait for it). */
async function weeklyPending(app: App, slot: ScheduleSlot, now: Date): Promise<boolean> {
  const key = `weekly:${slot.week.week_id}`;
  const [row] = await app.store.db
    .select({ status: scheduleRuns.status })
    .from(scheduleRuns)
    .where(and(eq(scheduleRuns.portfolio, app.portfolio), eq(scheduleRuns.slot, key)));
  if (row) return row.status === 'running' || row.status === 'retrying';
  // Not claimed yet (another daemon is about to): pending while the policy would still run it.
  const weekly = scheduleSlots(app.config, slot.week.week_id, slot.week.week_id).find((s) => s.key === key);
  return weekly !== undefined && catchUp(weekly, now, app.config.schedule.catch_up).run;
}

/** Whether the week's orders were placed in the portfolio (a checkpoint or postmortem needs them). */
async function weekExecuted(app: App, weekId: string): Promise<boolean> {
  const [row] = await app.store.db
    .select({ status: stageRuns.status })
    .from(stageRuns)
    .where(and(ofRun(stageRuns, { portfolio: app.portfolio, weekId }), eq(stageRuns.stage, 'execute'), eq(stageRuns.status, 'completed')));
  return row !== undefined;
}

function retryAt(app: App, row: RunRow): number {
  return (row.finishedAt?.getTime() ?? 0) + backoffMs(app, row.attempts - 1);
}

/** The wait after `failures` earlier failures: jobs.retry_delay_seconds, doubling after each. */
function backoffMs(app: App, failures: number): number {
  return app.config.schedule.jobs.retry_delay_seconds * 1000 * 2 ** Math.max(0, failures);
}

async function runRows(app: App, from: Date, to: Date): Promise<Map<string, RunRow>> {
  const rows = await app.store.db
    .select()
    .from(scheduleRuns)
    .where(and(eq(scheduleRuns.portfolio, app.portfolio), gte(scheduleRuns.dueAt, from), lte(scheduleRuns.dueAt, to)));
  return new Map(rows.map((r) => [r.slot, r]));
}

/** The first slot due after `now` that can run. */
export async function nextSlot(app: App, now: Date): Promise<ScheduleSlot | null> {
  return slotsBetween(app.config, now, new Date(now.getTime() + 8 * 86_400_000)).find((s) => s.at > now && s.skip === null) ?? null;
}

export interface ScheduleStatus {
  portfolio: string;
  now_utc: string;
  next: { slot: string; kind: string; week_id: string; due_et: string; due_utc: string }[];
  last: { slot: string; kind: string; week_id: string; due_et: string; status: string; attempts: number; detail: string | null }[];
  /** Slots in the look-back window that are due, not done, and that the policy would no longer run. */
  missed: { slot: string; due_et: string; reason: string }[];
}

/** What `schedule status` and `schedule --once` print: next runs, last runs, missed runs. */
export async function scheduleStatus(app: App, now: Date, counts = { next: 8, last: 12 }): Promise<ScheduleStatus> {
  const upcoming = slotsBetween(app.config, now, new Date(now.getTime() + 8 * 86_400_000)).filter((s) => s.at > now && s.skip === null);
  const last = await app.store.db
    .select()
    .from(scheduleRuns)
    .where(and(eq(scheduleRuns.portfolio, app.portfolio), lte(scheduleRuns.dueAt, now)))
    .orderBy(desc(scheduleRuns.dueAt), desc(scheduleRuns.slot))
    .limit(counts.last);
  const from = new Date(now.getTime() - app.config.schedule.catch_up.window_days * 86_400_000);
  const rows = await runRows(app, from, now);
  const missed = slotsBetween(app.config, from, now).flatMap((s) => {
    if (rows.has(s.key) || s.skip) return [];
    const verdict = catchUp(s, now, app.config.schedule.catch_up);
    return verdict.run ? [] : [{ slot: s.key, due_et: etIso(s.date, s.time), reason: verdict.reason }];
  });
  return {
    portfolio: app.portfolio,
    now_utc: now.toISOString(),
    next: upcoming.slice(0, counts.next).map((s) => ({
      slot: s.key,
      kind: s.kind,
      week_id: s.week.week_id,
      due_et: etIso(s.date, s.time),
      due_utc: s.at.toISOString(),
    })),
    last: last.map((r) => ({
      slot: r.slot,
      kind: r.kind,
      week_id: r.weekId,
      due_et: etOf(r.dueAt),
      status: r.status,
      attempts: r.attempts,
      detail: r.detail,
    })),
    missed,
  };
}

function etOf(instant: Date): string {
  const { date, time } = utcToEt(instant);
  return etIso(date, time);
}

function event(app: App, now: Date, kind: ScheduleEventKind, slot?: ScheduleSlot, detail?: string): ScheduleEvent {
  return {
    event: kind,
    at: now.toISOString(),
    portfolio: app.portfolio,
    ...(slot
      ? { slot: slot.key, kind: slot.kind, week_id: slot.week.week_id, due_et: etIso(slot.date, slot.time), due_utc: slot.at.toISOString() }
      : {}),
    ...(detail !== undefined ? { detail } : {}),
  };
}
