/**
 * Job leases: which jobs have a live worker, as PostgreSQL itself knows it.
 *
 * pg-boss 10 (the last for Node 20) learns that a worker died only when the job's expire_seconds have
 * passed: 30 minutes by default, as a week with LLM seats can take that long. So a worker killed -9
 * stalled a backtest, or a scheduled slot, for half an hour. Here a worker holds a session advisory
 * lock named after each job it runs (`job:<id>`, locks.ts's keys), on a connection of its own, from
 * before the handler starts until a moment after it ends. A process that dies loses its connection,
 * and PostgreSQL drops its locks with it. Every process on the queue looks every
 * jobs.orphan_check_seconds for jobs active for longer than a grace period whose lock it can take:
 * those have no worker. It hands each back to pg-boss as failed, to be retried at once (the queue's
 * retry delay is for jobs that failed, not for workers that died) within the queue's retry limit. It
 * holds the lock while it does so, and checks first that the job is still the same active one, so two
 * processes never hand one job back twice.
 *
 * Not covered, left to expire_seconds as before: a worker that hangs with its connection open, and a
 * machine that vanishes without closing its connections, until TCP keepalive notices (about a minute,
 * set on the lease connection below).
 */
import pg from 'pg';
import { advisoryKey } from '../storage/locks.js';

/** A job active for less than this may not have taken its lease yet (a handler starts milliseconds after the fetch). */
export const LEASE_GRACE_SECONDS = 5;
/** A lease outlives its handler by this much, so that pg-boss has recorded the outcome before it is let go. */
const RELEASE_AFTER_MS = 1000;
/** How long a worker tries for its job's lease while another process's check holds it for a moment. */
const TAKE_FOR_MS = 2000;

export interface OrphanJob {
  id: string;
  name: string;
  data: unknown;
  /** True when the job had no retry left: pg-boss has marked it failed. */
  givenUp: boolean;
}

export interface Leases {
  /** Runs `work` holding the lease of each of `jobIds`. */
  hold<T>(jobIds: readonly string[], work: () => Promise<T>): Promise<T>;
  /**
   * Hands back the active jobs of `queues` that no live worker holds (see the file comment); returns
   * them. `fail` is pg-boss's fail for one job.
   */
  reap(queues: readonly string[], fail: (name: string, id: string, reason: string) => Promise<void>): Promise<OrphanJob[]>;
  close(): Promise<void>;
}

/** Why such a job failed, as pg-boss records it (the job's output) and the logs say it. */
export const ORPHAN_REASON = 'its worker stopped (its process or its database connection ended)';

export function openLeases(databaseUrl: string, onError: (error: Error) => void): Leases {
  let client: pg.Client | null = null;
  let closed = false;
  /** The lease keys of the jobs this process works on now: retaken after a reconnection. */
  const held = new Set<string>();

  const connect = async (): Promise<pg.Client> => {
    // query_timeout: a database that stops answering must not hold a job at its start forever.
    const c = new pg.Client({
      connectionString: databaseUrl,
      application_name: 'llm-trading-leases',
      keepAlive: true,
      query_timeout: 30_000,
    });
    c.on('error', (error) => {
      if (client === c) client = null;
      if (!closed) onError(new Error(`job leases: ${error.message}`));
    });
    await c.connect();
    // The server notices a vanished machine in about a minute rather than the operating system's two
    // hours (TCP connections only; ignored on a Unix socket).
    await c.query('set tcp_keepalives_idle = 30; set tcp_keepalives_interval = 10; set tcp_keepalives_count = 3');
    // Leases held before a lost connection were dropped with it: take them again where no one else has.
    for (const key of held) await c.query('select pg_try_advisory_lock($1::bigint)', [key]);
    return c;
  };
  // One statement at a time on the connection (jobs start and end concurrently; pg would queue them
  // itself, with a deprecation warning), so the connection is also made by one statement at a time.
  let last: Promise<unknown> = Promise.resolve();
  const serial = <T>(statement: () => Promise<T>): Promise<T> => {
    const next = last.then(statement, statement);
    last = next.catch(() => undefined);
    return next;
  };
  const query = <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
    serial(async () => {
      if (closed) throw new Error('job leases are closed');
      client ??= await connect();
      return client.query<R>(text, values);
    });
  const tryLock = async (key: string): Promise<boolean> => {
    const { rows } = await query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key]);
    return rows[0]?.ok === true;
  };
  const unlock = async (key: string): Promise<void> => {
    if (closed || !client) return; // a closed connection has let its locks go
    await query('select pg_advisory_unlock($1::bigint)', [key]);
  };

  const take = async (key: string): Promise<void> => {
    const deadline = Date.now() + TAKE_FOR_MS;
    for (;;) {
      if (await tryLock(key)) break;
      // Another process's check holds it for a moment, or (after a job expired) a hung worker still
      // runs it: work on without the lease then, as pg-boss has given the job to this process.
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    held.add(key);
  };
  // pg-boss gives an active job to one fetch, so one process never holds one job's lease twice.
  const letGo = (key: string): void => {
    if (!held.has(key)) return;
    const timer = setTimeout(() => {
      held.delete(key);
      unlock(key).catch((error: Error) => onError(new Error(`job leases: ${error.message}`)));
    }, RELEASE_AFTER_MS);
    timer.unref();
  };

  return {
    async hold(jobIds, work) {
      const keys = jobIds.map((id) => advisoryKey(`job:${id}`));
      try {
        for (const key of keys) await take(key);
      } catch (error) {
        // No lease (the database is unreachable): the job still runs; the queue's expiry remains.
        onError(new Error(`job leases: ${error instanceof Error ? error.message : String(error)}`));
      }
      try {
        return await work();
      } finally {
        for (const key of keys) letGo(key);
      }
    },

    async reap(queues, fail) {
      if (queues.length === 0) return [];
      // started_on as text: a JavaScript Date would drop its microseconds, and the check below compares it.
      const { rows } = await query<{ id: string; name: string; started_on: string }>(
        `select id, name, started_on::text from pgboss.job
          where name = any($1) and state = 'active' and started_on < now() - make_interval(secs => $2)`,
        [queues, LEASE_GRACE_SECONDS],
      );
      const orphans: OrphanJob[] = [];
      for (const row of rows) {
        const key = advisoryKey(`job:${row.id}`);
        if (held.has(key) || !(await tryLock(key))) continue; // a live worker holds it
        try {
          // Still the same active job (not finished, nor handed back and started again meanwhile)?
          const { rows: now } = await query<{ data: unknown; retry_count: number; retry_limit: number }>(
            `select data, retry_count, retry_limit from pgboss.job
              where name = $1 and id = $2 and state = 'active' and started_on = $3::timestamptz`,
            [row.name, row.id, row.started_on],
          );
          const job = now[0];
          if (!job) continue;
          await fail(row.name, row.id, ORPHAN_REASON);
          // Retried at once, not after the queue's backoff: the job did not fail, its worker went away.
          // (It still counts against the retry limit: a job that kills every worker it runs on stops.)
          await query(`update pgboss.job set start_after = now() where name = $1 and id = $2 and state = 'retry'`, [row.name, row.id]);
          orphans.push({ id: row.id, name: row.name, data: job.data, givenUp: job.retry_count >= job.retry_limit });
        } finally {
          await unlock(key);
        }
      }
      return orphans;
    },

    async close() {
      closed = true;
      held.clear();
      await last; // the statement under way, and a connection it may be making
      await client?.end();
      client = null;
    },
  };
}
