/**
 * Named locks that serialise work on one portfolio: the week being run (`week:<portfolio>:<week>`) and
 * the portfolio's books (`books:<portfolio>`, around anything that trades).
 *
 * PostgreSQL: session-level advisory locks on a connection held for the lock's lifetime, so several
 * processes on several machines serialise, and a process that dies releases its locks with its
 * connection. PGlite: one process holds the database (home-lock.ts), so an in-process queue suffices.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { UserError } from '../errors.js';

export class LockTimeoutError extends UserError {}

export interface LockOptions {
  /** Give up after this long (0: do not wait). */
  timeoutMs: number;
  /** Called once, when the lock is busy and we start waiting. */
  onWait?: () => void;
}

export type Release = () => Promise<void>;

export interface Locks {
  acquire(name: string, options: LockOptions): Promise<Release>;
}

/** SQLSTATE of a lock wait that ran past lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/** A signed 64-bit advisory-lock key from the lock's name (the first 8 bytes of its sha256). */
export function advisoryKey(name: string): string {
  return createHash('sha256').update(`llm-trading:${name}`).digest().readBigInt64BE(0).toString();
}

/**
 * What a process does when the database ended the connection that held one of its locks (a server
 * restart, an administrator, the network) and the lock could not be taken back: by default it stops
 * at once, saying why. Every command resumes after a kill at any point, so stopping is safe, and going
 * on could let two processes work on one week.
 */
export type OnLockLost = (name: string, cause: Error) => void;

const exitOnLockLost: OnLockLost = (name, cause) => {
  process.stderr.write(
    `llm-trading: lost the lock ${name} when the database ended its connection (${cause.message}) and could not take it back ` +
      `(another process holds it, or the database stayed away for ${RETAKE_FOR_MS / 1000} s); ` +
      'stopping so that two processes never work on it at once: run the command again to resume\n',
  );
  process.exit(1);
};

/** How long a lock whose connection ended is tried again on a new one (a restarting server takes seconds). */
const RETAKE_FOR_MS = 30_000;
const RETAKE_EVERY_MS = 250;

export class AdvisoryLocks implements Locks {
  constructor(
    private readonly pool: pg.Pool,
    private readonly onLost: OnLockLost = exitOnLockLost,
  ) {}

  async acquire(name: string, options: LockOptions): Promise<Release> {
    const key = advisoryKey(name);
    let client = await this.pool.connect();
    const deadline = Date.now() + options.timeoutMs;
    try {
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key]);
      if (!rows[0]?.ok) {
        if (options.timeoutMs <= 0) throw busy(name, options.timeoutMs);
        options.onWait?.();
        await waitForLock(client, key, name, Math.max(1, deadline - Date.now()), options.timeoutMs);
      }
    } catch (error) {
      client.release(); // the pool drops a client whose connection died
      throw error;
    }

    let released = false;
    let retaking = false;
    // The lock went with its connection: take it again on a new one, or stop (see OnLockLost).
    const onConnectionLost = (error: Error) => {
      client.off('error', onConnectionLost);
      client.release(error);
      retaking = true;
      void this.#retake(key, () => released).then((again) => {
        retaking = false;
        if (!again) {
          if (!released) this.onLost(name, error);
          return;
        }
        // Let go of meanwhile: the new connection only unlocks and goes back to the pool.
        if (released) return void unlockAndRelease(again, key);
        client = again;
        client.on('error', onConnectionLost);
      });
    };
    client.on('error', onConnectionLost);
    return async () => {
      if (released) return;
      released = true;
      if (retaking) return; // the retake releases what it takes
      client.off('error', onConnectionLost);
      await unlockAndRelease(client, key);
    };
  }

  /**
   * A new connection holding `key`, or null when another process took it first, the server stayed
   * away, or the lock was let go of meanwhile (never rejects). Let go of, the lock is not wanted any
   * more and went with its connection: trying on would only keep a process that is closing its pool
   * alive for RETAKE_FOR_MS (a command that failed during a server restart exited 30 s late).
   */
  async #retake(key: string, letGo: () => boolean): Promise<pg.PoolClient | null> {
    const until = Date.now() + RETAKE_FOR_MS;
    for (;;) {
      if (letGo()) return null;
      let client: pg.PoolClient | null = null;
      try {
        client = await this.pool.connect();
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key]);
        if (rows[0]?.ok) return client;
        client.release();
        return null;
      } catch (error) {
        client?.release(error instanceof Error ? error : true);
        if (Date.now() > until) return null;
        await new Promise((resolve) => setTimeout(resolve, RETAKE_EVERY_MS));
      }
    }
  }
}

async function unlockAndRelease(client: pg.PoolClient, key: string): Promise<void> {
  try {
    await client.query('select pg_advisory_unlock($1::bigint)', [key]);
    client.release();
  } catch (error) {
    // Closing the connection releases the lock too.
    client.release(error instanceof Error ? error : true);
  }
}

function busy(name: string, timeoutMs: number): LockTimeoutError {
  return new LockTimeoutError(`${name} is busy in another process (waited ${Math.round(timeoutMs / 1000)} s)`);
}

/**
 * Waits in PostgreSQL for the holder to let go (woken the moment it does, where polling added up to a
 * poll interval to every wait): pg_advisory_lock under a lock_timeout of what is left, with no statement
 * timeout for this one statement (the pool's per-statement timeout would cut a long wait short). The
 * settings are transaction-local; the advisory lock is the session's and outlives the transaction.
 */
async function waitForLock(client: pg.PoolClient, key: string, name: string, remainingMs: number, timeoutMs: number): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`select set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)`, [`${remainingMs}ms`]);
    await client.query('select pg_advisory_lock($1::bigint)', [key]);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) throw busy(name, timeoutMs);
    throw error;
  }
}

export class ProcessLocks implements Locks {
  /** Per held name, the waiters in arrival order. */
  private readonly held = new Map<string, (() => void)[]>();

  async acquire(name: string, options: LockOptions): Promise<Release> {
    const queue = this.held.get(name);
    if (queue) {
      options.onWait?.();
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          queue.splice(queue.indexOf(wake), 1);
          reject(new LockTimeoutError(`${name} is busy (waited ${Math.round(options.timeoutMs / 1000)} s)`));
        }, options.timeoutMs);
        queue.push(wake);
      });
    } else {
      this.held.set(name, []);
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      const waiters = this.held.get(name) ?? [];
      const next = waiters.shift();
      // The lock passes straight to the next waiter; with none, the name is free.
      if (next) next();
      else this.held.delete(name);
    };
  }
}
