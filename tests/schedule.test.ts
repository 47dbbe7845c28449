/**
 * The schedule daemon (issue P7) on a controllable clock — no real waiting: the plan across both DST
 * changes, a holiday decision day and an early close; a whole week run by the daemon; killed mid-week
 * and restarted (missed slots caught up or skipped as the policy says, nothing placed twice); stopped
 * (SIGTERM) in the middle of a checkpoint and resumed; two daemons on one PostgreSQL database running
 * each slot once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { loadConfig } from '../src/config/app-config.js';
import { builtinCalendar, useTradingCalendar, type TradingCalendar } from '../src/market/calendar.js';
import { runDaemon, type DaemonClock, type ScheduleEvent } from '../src/schedule/daemon.js';
import { scheduleSlots } from '../src/schedule/plan.js';
import { catchUp } from '../src/schedule/policy.js';
import { openStore, type Store } from '../src/storage/db.js';
import { checkpointRuns, orders, scheduleRuns } from '../src/storage/schema.js';
import { testApp } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { createScratchDatabase } from './helpers/stores.js';

const config = loadConfig();

/** A clock that jumps: sleep(ms) moves time on at once; past `until` it aborts the daemon. */
function fakeClock(start: string, until: string, stop: AbortController): DaemonClock & { t: number } {
  const end = Date.parse(until);
  const clock = {
    t: Date.parse(start),
    now: () => new Date(clock.t),
    sleep: async (ms: number) => {
      clock.t += Math.max(ms, 1000);
      if (clock.t >= end) stop.abort();
    },
  };
  return clock;
}

/**
 * One virtual clock for several daemons: each sleep waits until every daemon sleeps, then time jumps
 * to the earliest wake-up (a discrete-event clock); past `until` every daemon is stopped.
 */
function sharedClock(start: string, until: string, stops: AbortController[]): DaemonClock {
  const end = Date.parse(until);
  let t = Date.parse(start);
  let sleepers: { wake: number; resolve: () => void }[] = [];
  const advance = () => {
    if (sleepers.length < stops.length) return;
    t = Math.min(...sleepers.map((s) => s.wake));
    if (t >= end) for (const stop of stops) stop.abort();
    const due = sleepers.filter((s) => s.wake <= t || t >= end);
    sleepers = sleepers.filter((s) => !due.includes(s));
    for (const s of due) s.resolve();
  };
  return {
    now: () => new Date(t),
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        sleepers.push({ wake: t + Math.max(ms, 1000), resolve });
        advance();
      }),
  };
}

async function daemon(
  app: App,
  start: string,
  until: string,
  onEvent: (e: ScheduleEvent, stop: AbortController) => void = () => undefined,
) {
  const stop = new AbortController();
  const events: ScheduleEvent[] = [];
  await runDaemon(app, {
    clock: fakeClock(start, until, stop),
    signal: stop.signal,
    log: (e) => {
      events.push(e);
      onEvent(e, stop);
    },
  });
  return events;
}

const rowsOf = (app: App) => app.store.db.select().from(scheduleRuns).where(eq(scheduleRuns.portfolio, app.portfolio));

describe('the schedule', () => {
  const at = (week: string, key: string) => scheduleSlots(config, week, week).find((s) => s.key === key);

  it('is right on both DST change days: New York wall times, UTC instants that move by an hour', () => {
    // Spring forward on Sunday 2024-03-10: Friday 09:00 EST is 14:00Z, Monday 09:00 EDT is 13:00Z.
    expect(at('2024-03-06', 'checkpoint:2024-03-08T09:00')?.at.toISOString()).toBe('2024-03-08T14:00:00.000Z');
    expect(at('2024-03-06', 'checkpoint:2024-03-11T09:00')?.at.toISOString()).toBe('2024-03-11T13:00:00.000Z');
    // Fall back on Sunday 2024-11-03.
    expect(at('2024-10-30', 'checkpoint:2024-11-01T15:50')?.at.toISOString()).toBe('2024-11-01T19:50:00.000Z');
    expect(at('2024-10-30', 'checkpoint:2024-11-04T15:50')?.at.toISOString()).toBe('2024-11-04T20:50:00.000Z');
    expect(at('2024-10-30', 'weekly:2024-10-30')?.at.toISOString()).toBe('2024-10-30T12:00:00.000Z');
  });

  it('moves the weekly run of a holiday Wednesday to the next trading day; skips checkpoints after an early close', () => {
    const christmas = scheduleSlots(config, '2024-12-25', '2024-12-25');
    const weekly = christmas.find((s) => s.key === 'weekly:2024-12-25');
    expect(weekly).toMatchObject({ date: '2024-12-26', time: '08:00' });
    expect(christmas.find((s) => s.key === 'postmortem:2024-12-18')?.at).toEqual(weekly?.at);
    expect(christmas.some((s) => s.date === '2024-12-25')).toBe(false);
    // 2024-07-03 closes at 13:00 and 07-04 is a holiday.
    const july = scheduleSlots(config, '2024-07-03', '2024-07-03').filter((s) => s.week.week_id === '2024-07-03');
    expect(july.filter((s) => s.date === '2024-07-03').map((s) => [s.time, s.skip !== null])).toEqual([
      ['08:00', false], // the weekly run (the postmortem at the same time belongs to the week before)
      ['09:00', true], // before the decision day's open
      ['12:00', false],
      ['14:00', true], // after the early close
      ['15:50', true],
    ]);
    expect(july.some((s) => s.date === '2024-07-04')).toBe(false);
  });

  it('catches a missed run up while it is useful, and skips it after', () => {
    const slots = scheduleSlots(config, '2024-03-06', '2024-03-06');
    const weekly = slots.find((s) => s.key === 'weekly:2024-03-06')!;
    const policy = config.schedule.catch_up;
    expect(catchUp(weekly, new Date('2024-03-06T13:00:30Z'), policy)).toEqual({ run: true, late: false });
    expect(catchUp(weekly, new Date('2024-03-06T14:00:00Z'), policy)).toEqual({ run: true, late: true }); // 09:00 ET
    expect(catchUp(weekly, new Date('2024-03-06T14:30:00Z'), policy)).toMatchObject({ run: false }); // 09:30 ET: the open
    const noon = slots.find((s) => s.key === 'checkpoint:2024-03-07T12:00')!;
    expect(catchUp(noon, new Date('2024-03-07T18:59:00Z'), policy)).toEqual({ run: true, late: true });
    expect(catchUp(noon, new Date('2024-03-07T19:00:00Z'), policy)).toMatchObject({
      run: false,
      reason: expect.stringMatching(/next checkpoint/),
    });
    const postmortem = slots.find((s) => s.key === 'postmortem:2024-02-28')!;
    expect(catchUp(postmortem, new Date('2024-03-09T00:00:00Z'), policy)).toEqual({ run: true, late: true });
    expect(catchUp(noon, new Date('2024-03-07T19:00:00Z'), { ...policy, checkpoint: 'always' })).toEqual({ run: true, late: true });
    expect(catchUp(postmortem, new Date('2024-03-09T00:00:00Z'), { ...policy, postmortem: 'never' })).toMatchObject({ run: false });
  });
});

describe('llm-trading schedule --once / status', () => {
  it('runs what is due at --now (a late weekly run before the open) and prints next, last and missed runs', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lt-schedule-'));
    try {
      const env = { LLM_TRADING_HOME: home };
      const once = await cli(['schedule', '--once', '--now', '2024-03-06T13:05:00Z', '--offline', '--json', '--log-format', 'json'], env);
      expect(once.code, once.stderr).toBe(0);
      const lines = once.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ScheduleEvent);
      expect(lines.find((e) => e.slot === 'weekly:2024-03-06' && e.event === 'completed')).toMatchObject({
        late: true,
        due_et: '2024-03-06T08:00:00-05:00',
        due_utc: '2024-03-06T13:00:00.000Z',
      });
      const status = JSON.parse(once.stdout);
      expect(status.next[0]).toEqual({
        slot: 'checkpoint:2024-03-06T12:00',
        kind: 'checkpoint',
        week_id: '2024-03-06',
        due_et: '2024-03-06T12:00:00-05:00',
        due_utc: '2024-03-06T17:00:00.000Z',
      });
      expect(status.last[0]).toMatchObject({ slot: 'weekly:2024-03-06', status: 'completed', attempts: 1 });
      // Two hours later nothing ran the 12:00 checkpoint, and 14:00 is due: it is missed.
      const later = await cli(['schedule', 'status', '--now', '2024-03-06T19:30:00Z', '--offline'], env);
      expect(later.code, later.stderr).toBe(0);
      expect(later.stdout).toMatch(/^ {2}checkpoint:2024-03-06T12:00 +2024-03-06T12:00:00-05:00 +missed: the next checkpoint is due/m);
      expect(later.stdout).toMatch(/^ {2}checkpoint:2024-03-06T15:50 +2024-03-06T15:50:00-05:00 +2024-03-06T20:50:00.000Z$/m);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('llm-trading schedule --health-port', () => {
  it('serves GET /healthz on 127.0.0.1 while the daemon runs, and stops on the signal', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lt-schedule-health-'));
    const stop = new AbortController();
    let stderr = '';
    const io = { stdout: () => undefined, stderr: (t: string) => void (stderr += t), env: { LLM_TRADING_HOME: home } };
    try {
      const { schedule } = await import('../src/cli/schedule-command.js');
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const running = schedule(io, 'run', { healthPort: port, now: '2024-03-06T12:30:00Z', offline: true }, stop.signal);
      let health: { status: string; last_pass: { next: string } | null } | null = null;
      for (let i = 0; i < 200 && !health?.last_pass; i++) {
        await new Promise((r) => setTimeout(r, 50));
        health = await fetch(`http://127.0.0.1:${port}/healthz`)
          .then((r) => r.json() as Promise<typeof health>)
          .catch(() => null);
      }
      expect(health).toMatchObject({
        status: 'ok',
        last_pass: { next: expect.stringMatching(/^postmortem postmortem:2024-02-28 at 2024-03-06T13:00:00.000Z$/) },
      });
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
      stop.abort();
      await running;
      expect(stderr).toMatch(/ default stopped\n$/);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('the daemon on a controllable clock', () => {
  let store: Store;
  const apps: (App & { cleanup(): Promise<void> })[] = [];
  const appFor = async (s: Store, portfolio: string) => {
    const app = await testApp(s, {}, { portfolio });
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    store = await openStore({ memory: true });
  });
  afterAll(async () => {
    for (const a of apps) await a.cleanup();
    await store.close();
  });

  it(
    'runs a whole week across the spring DST change: the weekly run, every checkpoint, the next postmortem',
    { timeout: 60_000 },
    async () => {
      const app = await appFor(store, 'week');
      // From Wednesday 07:59 EST to just after the next Wednesday's 08:00 EDT run.
      const events = await daemon(app, '2024-03-06T12:59:00Z', '2024-03-13T12:01:00Z');
      const rows = await rowsOf(app);
      const byKey = new Map(rows.map((r) => [r.slot, r]));
      expect(byKey.get('weekly:2024-03-06')).toMatchObject({ status: 'completed', attempts: 1 });
      expect(byKey.get('postmortem:2024-03-06')).toMatchObject({ status: 'completed', attempts: 1 });
      expect(byKey.get('weekly:2024-03-13')).toMatchObject({ status: 'completed', attempts: 1 });
      const checkpoints = rows.filter((r) => r.kind === 'checkpoint' && r.weekId === '2024-03-06');
      // 5 sessions × 4 times, minus the decision day's 09:00 (skipped, before the open).
      expect(checkpoints).toHaveLength(20);
      expect(checkpoints.filter((r) => r.status === 'completed')).toHaveLength(19);
      expect(byKey.get('checkpoint:2024-03-06T09:00')).toMatchObject({
        status: 'skipped',
        detail: expect.stringMatching(/before the 09:30 open/),
      });
      // Each ran at its time (none late), and the engine recorded each checkpoint once.
      expect(events.filter((e) => e.event === 'completed' && e.late)).toHaveLength(0);
      const ran = await store.db.select().from(checkpointRuns).where(eq(checkpointRuns.portfolio, 'week'));
      expect(ran.filter((r) => r.weekId === '2024-03-06' && r.status === 'completed')).toHaveLength(19);
      // The Monday after the change ran at 09:00 EDT = 13:00Z.
      expect(events.find((e) => e.event === 'started' && e.slot === 'checkpoint:2024-03-11T09:00')?.at).toBe('2024-03-11T13:00:00.000Z');
    },
  );

  it('reads the calendar again before every pass: a closure synced while it runs is kept', { timeout: 60_000 }, async () => {
    const app = await appFor(store, 'recalendar');
    // A "data sync" during Wednesday brings an unscheduled closure on Thursday 2024-03-07.
    const closed: TradingCalendar = {
      name: 'test: closed 2024-03-07',
      session: (date) => (date === '2024-03-07' ? null : builtinCalendar.session(date)),
      closureName: (date) => (date === '2024-03-07' ? 'an unscheduled closure' : builtinCalendar.closureName(date)),
    };
    let passes = 0;
    const stop = new AbortController();
    const events: ScheduleEvent[] = [];
    try {
      await runDaemon(app, {
        clock: fakeClock('2024-03-06T12:59:00Z', '2024-03-08T15:00:00Z', stop),
        signal: stop.signal,
        log: (e) => events.push(e),
        beforePass: async () => {
          if (++passes === 3) useTradingCalendar(closed);
          if (passes === 4) throw new Error('the database went away for a moment');
        },
      });
    } finally {
      useTradingCalendar(builtinCalendar);
    }
    const started = events.filter((e) => e.event === 'started' && e.slot).map((e) => e.slot);
    expect(started).toContain('checkpoint:2024-03-06T15:50');
    expect(started.filter((slot) => slot?.includes('2024-03-07'))).toEqual([]);
    expect(started).toContain('checkpoint:2024-03-08T09:00');
    // A failing refresh is logged and the daemon goes on.
    expect(events.find((e) => e.event === 'failed' && !e.slot)?.detail).toMatch(/before the pass: .*went away/);
  });

  it(
    'killed mid-week and restarted: missed slots caught up or skipped by the policy, nothing placed twice; stopped mid-checkpoint, it resumes',
    { timeout: 60_000 },
    async () => {
      const app = await appFor(store, 'restart');
      // Runs Wednesday to Thursday 12:30 ET, then is down until Friday 13:00 ET (18:00Z).
      await daemon(app, '2024-03-06T12:59:00Z', '2024-03-07T17:30:00Z');
      // Restarted Friday 13:00; stopped (SIGTERM) as the 14:00 checkpoint starts.
      let stoppedDuring: string | null = null;
      await daemon(app, '2024-03-08T18:00:00Z', '2024-03-09T00:00:00Z', (e, stop) => {
        if (e.event === 'started' && e.slot === 'checkpoint:2024-03-08T14:00') {
          stoppedDuring = e.slot;
          stop.abort();
        }
      });
      expect(stoppedDuring).toBe('checkpoint:2024-03-08T14:00');
      let byKey = new Map((await rowsOf(app)).map((r) => [r.slot, r]));
      // Thursday 14:00 and 15:50 and Friday 09:00 were missed past the next checkpoint: skipped; Friday
      // 12:00 was still worth running at 13:00.
      for (const key of ['checkpoint:2024-03-07T14:00', 'checkpoint:2024-03-07T15:50', 'checkpoint:2024-03-08T09:00'])
        expect(byKey.get(key)).toMatchObject({ status: 'skipped', detail: expect.stringMatching(/^missed: the next checkpoint is due/) });
      expect(byKey.get('checkpoint:2024-03-08T12:00')).toMatchObject({ status: 'completed' });
      expect(byKey.get('checkpoint:2024-03-08T14:00')?.status).toMatch(/^(running|completed)$/);

      // Restarted again at 14:05: the interrupted 14:00 checkpoint resumes; the rest of the week runs.
      await daemon(app, '2024-03-08T19:05:00Z', '2024-03-13T12:01:00Z');
      byKey = new Map((await rowsOf(app)).map((r) => [r.slot, r]));
      expect(byKey.get('checkpoint:2024-03-08T14:00')?.status).toBe('completed');
      expect(byKey.get('weekly:2024-03-13')?.status).toBe('completed');
      const placed = await store.db.select({ id: orders.clientOrderId }).from(orders).where(eq(orders.portfolio, 'restart'));
      expect(new Set(placed.map((o) => o.id)).size).toBe(placed.length);
      const runsOf14 = await store.db
        .select()
        .from(checkpointRuns)
        .where(and(eq(checkpointRuns.portfolio, 'restart'), eq(checkpointRuns.date, '2024-03-08'), eq(checkpointRuns.time, '14:00')));
      expect(runsOf14.filter((r) => r.status === 'completed')).toHaveLength(1);
    },
  );

  it(
    'retries a failed slot after jobs.retry_delay_seconds, doubling, on its own clock; after jobs.retry_limit retries it fails for good',
    { timeout: 60_000 },
    async () => {
      const app = await appFor(store, 'retry');
      const doomed = await appFor(store, 'retry-out');
      // The database refuses a week's run: not the user's to fix, so it is retried. Portfolio 'retry'
      // twice (a sequence: its count survives the failed statement's rollback), 'retry-out' always.
      const setup = [
        `create sequence retry_refusals`,
        `create function refuse_runs() returns trigger language plpgsql as $$ begin
           if new.portfolio = 'retry-out' or (new.portfolio = 'retry' and nextval('retry_refusals') <= 2) then
             raise exception 'the disk is busy (test)';
           end if;
           return new;
         end $$`,
        `create trigger refuse_runs before insert on runs for each row execute function refuse_runs()`,
      ];
      for (const statement of setup) await store.db.execute(sql.raw(statement));
      try {
        const { retry_delay_seconds: delay, retry_limit: limit } = config.schedule.jobs;
        // Wednesday's weekly run is due at 13:00Z; the next slot (the 09:00 ET checkpoint) only at 14:00Z.
        const events = await daemon(app, '2024-03-06T12:59:00Z', '2024-03-06T13:30:00Z');
        const weekly = (kind: string) => events.filter((e) => e.slot === 'weekly:2024-03-06' && e.event === kind).map((e) => e.at);
        const at = (seconds: number) => new Date(Date.parse('2024-03-06T13:00:00Z') + seconds * 1000).toISOString();
        // The daemon wakes for each retry (not at the next slot), timed from the failure on its clock.
        expect(weekly('started')).toEqual([at(0), at(delay), at(3 * delay)]);
        expect(weekly('retrying')).toEqual([at(0), at(delay)]);
        expect(weekly('completed')).toEqual([at(3 * delay)]);
        expect((await rowsOf(app)).find((r) => r.slot === 'weekly:2024-03-06')).toMatchObject({ status: 'completed', attempts: 3 });

        const given = await daemon(doomed, '2024-03-06T12:59:00Z', '2024-03-06T13:30:00Z');
        const tries = given.filter((e) => e.slot === 'weekly:2024-03-06' && e.event === 'started');
        expect(tries).toHaveLength(limit + 1);
        expect(given.filter((e) => e.event === 'retrying')).toHaveLength(limit);
        const failed = given.filter((e) => e.event === 'failed');
        expect(failed).toHaveLength(1);
        expect(failed[0]).toMatchObject({ slot: 'weekly:2024-03-06', at: at(delay * (2 ** limit - 1)) });
        expect(failed[0]?.detail).toMatch(/the disk is busy \(test\)/);
        const row = (await rowsOf(doomed)).find((r) => r.slot === 'weekly:2024-03-06');
        expect(row).toMatchObject({ status: 'failed', attempts: limit + 1 });
        expect(row?.finishedAt?.toISOString()).toBe(at(delay * (2 ** limit - 1)));
        // Failed for good: a later pass does not run it again.
        const later = await daemon(doomed, '2024-03-06T13:10:00Z', '2024-03-06T13:30:00Z');
        expect(later.filter((e) => e.slot === 'weekly:2024-03-06')).toEqual([]);
      } finally {
        for (const statement of ['drop trigger refuse_runs on runs', 'drop function refuse_runs', 'drop sequence retry_refusals'])
          await store.db.execute(sql.raw(statement));
      }
    },
  );

  it('stays up when a pass fails (the database away): logs it, tries again after a doubling delay, then runs what is due', async () => {
    const app = await appFor(store, 'outage');
    const { retry_delay_seconds: delay } = config.schedule.jobs;
    // The daemon's table is away for its first two passes, as a database that is restarting is.
    await store.db.execute(sql.raw('alter table schedule_runs rename to schedule_runs_away'));
    let sleeps = 0;
    const stop = new AbortController();
    const clock = fakeClock('2024-03-06T12:59:00Z', '2024-03-06T13:30:00Z', stop);
    const sleep = clock.sleep;
    clock.sleep = async (ms, signal) => {
      if (++sleeps === 2) await store.db.execute(sql.raw('alter table schedule_runs_away rename to schedule_runs'));
      return sleep(ms, signal);
    };
    const events: ScheduleEvent[] = [];
    try {
      await runDaemon(app, { clock, signal: stop.signal, log: (e) => events.push(e) });
    } finally {
      if (sleeps < 2) await store.db.execute(sql.raw('alter table schedule_runs_away rename to schedule_runs'));
    }
    const failed = events.filter((e) => e.event === 'failed' && !e.slot);
    expect(failed.map((e) => e.at)).toEqual([
      '2024-03-06T12:59:00.000Z',
      new Date(Date.parse('2024-03-06T12:59:00Z') + delay * 1000).toISOString(),
    ]);
    expect(failed[0]?.detail).toMatch(new RegExp(`^the pass failed: .*schedule_runs.*; trying again in ${delay} s$`));
    expect(failed[1]?.detail).toMatch(new RegExp(`; trying again in ${2 * delay} s$`));
    expect(events.find((e) => e.event === 'completed' && e.slot === 'weekly:2024-03-06')?.at).toBe('2024-03-06T13:00:00.000Z');
    expect(events.at(-1)?.event).toBe('stopped');
    expect((await rowsOf(app)).find((r) => r.slot === 'weekly:2024-03-06')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('two daemons on one PostgreSQL database run each slot once', { timeout: 90_000 }, async () => {
    const scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL as string);
    const pgStore = await openStore({ databaseUrl: scratch.url });
    const other = await openStore({ databaseUrl: scratch.url });
    try {
      const [a, b] = [await appFor(pgStore, 'twin'), await appFor(other, 'twin')];
      // One clock for both, as on one machine's wall clock: time moves on when both are asleep.
      const stops = [new AbortController(), new AbortController()];
      const clock = sharedClock('2024-03-06T12:59:00Z', '2024-03-08T12:00:00Z', stops);
      const eventsA: ScheduleEvent[] = [];
      const eventsB: ScheduleEvent[] = [];
      await Promise.all([
        runDaemon(a, { clock, signal: stops[0]!.signal, log: (e) => eventsA.push(e) }),
        runDaemon(b, { clock, signal: stops[1]!.signal, log: (e) => eventsB.push(e) }),
      ]);
      const rows = await rowsOf(a);
      expect(rows.filter((r) => r.status === 'completed').length).toBeGreaterThan(5);
      expect(rows.every((r) => r.attempts <= 1)).toBe(true);
      const started = [...eventsA, ...eventsB].filter((e) => e.event === 'started' && e.slot).map((e) => e.slot);
      expect(started.filter((slot, i) => started.indexOf(slot) !== i)).toEqual([]);
      const placed = await pgStore.db.select({ id: orders.clientOrderId }).from(orders).where(eq(orders.portfolio, 'twin'));
      expect(placed.length).toBeGreaterThan(0);
      expect(new Set(placed.map((o) => o.id)).size).toBe(placed.length);
    } finally {
      await other.close();
      await pgStore.close();
      await scratch.drop();
    }
  });
});
