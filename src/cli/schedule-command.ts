/**
 * `llm-trading schedule` (the daemon), `schedule --once` (one pass: what is due or still worth
 * catching up, then the status) and `schedule status` (next runs, last runs, missed runs).
 */
import { createServer, type Server } from 'node:http';
import type { App } from '../app.js';
import type { ScheduleEvent, ScheduleStatus } from '../schedule/daemon.js';
import type { ScheduleSlot } from '../schedule/plan.js';
import { UsageError, type CliIo, type CommonOptions } from './io.js';
import { prepare, withApp } from './commands.js';
import { pad } from './format.js';

export interface ScheduleCommandOptions extends CommonOptions {
  once?: boolean;
  offline?: boolean;
  allowOfflineSeats?: boolean;
  logFormat?: 'plain' | 'json';
  healthPort?: number;
  /** Pretend the clock starts at this instant (replays on the bundled data, tests). */
  now?: string;
  /** PostgreSQL: slots this process runs itself (0: leave them to `llm-trading worker`). */
  workers?: number;
}

export async function schedule(io: CliIo, action: 'run' | 'status', options: ScheduleCommandOptions, signal?: AbortSignal): Promise<void> {
  const start = options.now !== undefined ? new Date(options.now) : null;
  if (start && Number.isNaN(start.getTime())) throw new UsageError(`--now: expected an ISO-8601 instant, got "${options.now}"`);
  const prepared = await prepare(io, undefined, options);
  const { runDaemon, runDue, scheduleStatus, wallClock } = await import('../schedule/daemon.js');
  // A clock that starts at --now and runs at the wall clock's pace from there.
  const offset = start ? start.getTime() - Date.now() : 0;
  const clock = { now: () => new Date(Date.now() + offset), sleep: wallClock.sleep };
  const appOptions = { ...options, offline: options.offline === true, allowOfflineSeats: options.allowOfflineSeats === true };
  await withApp(io, prepared, 'schedule', appOptions, async (app) => {
    const log = eventLogger(io, options.logFormat ?? 'plain');
    if (action === 'status' || options.once) {
      if (options.once) await runDue(app, clock.now(), { log, clock: () => clock.now() });
      const status = await scheduleStatus(app, clock.now());
      io.stdout(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
      return;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    signal?.addEventListener('abort', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    let health: Server | null = null;
    let lastPass: { at: string; next: string | null } | null = null;
    // PostgreSQL: the slots go through the job queue, shared with every daemon and worker on the database.
    const queued = app.env.databaseUrl ? await queueFor(app, log, options, { now: () => clock.now(), offset }) : null;
    try {
      if (options.healthPort !== undefined) health = await serveHealth(options.healthPort, () => lastPass);
      await runDaemon(app, {
        clock,
        signal: stop.signal,
        log,
        onPass: ({ at, next }) =>
          (lastPass = { at: at.toISOString(), next: next ? `${next.kind} ${next.key} at ${next.at.toISOString()}` : null }),
        ...(queued ? { dispatch: queued.dispatch } : {}),
        ...(app.env.marketData === 'alpaca' ? { beforePass: () => reloadCalendar(app) } : {}),
      });
    } finally {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      await queued?.close();
      await new Promise((resolve) => (health ? health.close(resolve) : resolve(undefined)));
    }
  });
}

/** MARKET_DATA=alpaca: Alpaca's calendar as the database has it now (see reloadSyncedCalendar). */
async function reloadCalendar(app: App): Promise<void> {
  const { reloadSyncedCalendar } = await import('../market/alpaca-market-data.js');
  await reloadSyncedCalendar(app.store.db, app.config);
}

/** `clock`: the daemon's (from --now at the wall clock's pace); `offset`: how far it is from the wall clock (ms). */
async function queueFor(
  app: App,
  log: (e: ScheduleEvent) => void,
  options: ScheduleCommandOptions,
  clock: { now: () => Date; offset: number },
) {
  const { openScheduleQueue, dispatchSlot, startScheduleWorker } = await import('../schedule/jobs.js');
  const queue = await openScheduleQueue(
    app.env.databaseUrl as string,
    app.config.schedule.jobs,
    (e) => log({ event: 'failed', at: clock.now().toISOString(), portfolio: app.portfolio, detail: `job queue: ${e.message}` }),
    log,
  );
  const slots = options.workers ?? 1;
  const worker =
    slots > 0
      ? await startScheduleWorker(queue, {
          store: app.store,
          env: app.env,
          config: app.config,
          lockTimeoutMs: app.lockTimeoutMs,
          log,
          slots,
        })
      : null;
  return {
    dispatch: (slot: ScheduleSlot) =>
      dispatchSlot(queue, {
        portfolio: app.portfolio,
        slot: slot.key,
        due_date: slot.date,
        offline: options.offline === true,
        allow_offline_seats: options.allowOfflineSeats === true,
        clock_offset_ms: clock.offset,
      }),
    close: async () => {
      await worker?.stop();
      try {
        await queue.close();
      } finally {
        await worker?.close();
      }
    },
  };
}

function eventLogger(io: CliIo, format: 'plain' | 'json'): (e: ScheduleEvent) => void {
  if (format === 'json') return (e) => io.stderr(`${JSON.stringify(e)}\n`);
  return (e) => {
    const what = e.slot ? `${e.slot}${e.due_et ? ` (due ${e.due_et})` : ''}` : '';
    const late = e.late ? ' late' : '';
    io.stderr(`${e.at} ${e.portfolio} ${e.event}${late}${what ? ` ${what}` : ''}${e.detail ? `: ${e.detail}` : ''}\n`);
  };
}

/** GET /healthz on 127.0.0.1: 200 with the last pass and the next run while the daemon runs. */
function serveHealth(port: number, state: () => { at: string; next: string | null } | null): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', last_pass: state() }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new UsageError(`--health-port ${port}: ${e.message}`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function renderStatus(s: ScheduleStatus): string {
  const lines = [`schedule of portfolio ${s.portfolio} at ${s.now_utc}`, '', 'next runs:'];
  lines.push(`  ${pad('slot', 30)}${pad('due (New York)', 28)}due (UTC)`);
  for (const n of s.next) lines.push(`  ${pad(n.slot, 30)}${pad(n.due_et, 28)}${n.due_utc}`);
  lines.push('', 'last runs:');
  if (s.last.length === 0) lines.push('  none yet');
  else lines.push(`  ${pad('slot', 30)}${pad('due (New York)', 28)}${pad('status', 11)}detail`);
  for (const l of s.last) lines.push(`  ${pad(l.slot, 30)}${pad(l.due_et, 28)}${pad(l.status, 11)}${l.detail ?? ''}`);
  lines.push('', 'missed runs (the catch-up policy no longer runs them):');
  if (s.missed.length === 0) lines.push('  none');
  for (const m of s.missed) lines.push(`  ${pad(m.slot, 30)}${pad(m.due_et, 28)}${m.reason}`);
  return `${lines.join('\n')}\n`;
}
