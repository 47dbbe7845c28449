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

const POLL_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signed 64-bit advisory-lock key from the lock's name (the first 8 bytes of its sha256). */
export function advisoryKey(name: string): string {
  return createHash('sha256').update(`llm-trading:${name}`).digest().readBigInt64BE(0).toString();
}

export class AdvisoryLocks implements Locks {
  constructor(private readonly pool: pg.Pool) {}

  async acquire(name: string, options: LockOptions): Promise<Release> {
    const key = advisoryKey(name);
    const client = await this.pool.connect();
    const deadline = Date.now() + options.timeoutMs;
    let waited = false;
    try {
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key]);
        if (rows[0]?.ok) break;
        if (Date.now() >= deadline)
          throw new LockTimeoutError(`${name} is busy in another process (waited ${Math.round(options.timeoutMs / 1000)} s)`);
        if (!waited) {
          waited = true;
          options.onWait?.();
        }
        await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
      }
    } catch (error) {
      client.release();
      throw error;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        await client.query('select pg_advisory_unlock($1::bigint)', [key]);
        client.release();
      } catch (error) {
        // Closing the connection releases the lock too.
        client.release(error instanceof Error ? error : true);
      }
    };
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
