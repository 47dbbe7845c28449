import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockTimeoutError } from '../src/storage/locks.js';
import type { Store } from '../src/storage/db.js';
import { storeFactories } from './helpers/stores.js';

/**
 * The named locks every process takes around a week and a portfolio's books: on PostgreSQL advisory
 * locks (several processes), on PGlite an in-process queue. A waiter gets the lock as soon as it is
 * let go, a wait past its timeout is a LockTimeoutError, and nothing is left held or changed behind.
 */
describe.each(storeFactories)('named locks ($name)', (factory) => {
  let store: Store;
  /** Rows of a query (both drivers answer `{ rows }`). */
  const rowsOf = async <T>(text: string): Promise<T[]> => ((await store.db.execute(sql.raw(text))) as unknown as { rows: T[] }).rows;
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('a waiter is told it waits, and has the lock the moment the holder lets go', async () => {
    const release = await store.locks.acquire('test:handover', { timeoutMs: 0 });
    let waits = 0;
    let acquired = false;
    const waiting = store.locks.acquire('test:handover', { timeoutMs: 10_000, onWait: () => waits++ }).then((r) => {
      acquired = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(acquired).toBe(false);
    if (factory.name === 'postgres') {
      // The waiter waits inside PostgreSQL (an ungranted advisory lock), to be woken by the release —
      // not polling, which added up to a poll interval to every wait.
      const rows = await rowsOf<{ n: number }>(
        "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
      );
      expect(rows[0]?.n).toBe(1);
    }
    await release();
    const r = await waiting;
    expect(waits).toBe(1);
    await r();
  });

  it('no wait with timeout 0; a wait past its timeout fails; the lock is free again afterwards', async () => {
    const release = await store.locks.acquire('test:busy', { timeoutMs: 0 });
    await expect(store.locks.acquire('test:busy', { timeoutMs: 0 })).rejects.toThrow(LockTimeoutError);
    const started = Date.now();
    await expect(store.locks.acquire('test:busy', { timeoutMs: 300 })).rejects.toThrow(/test:busy is busy/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await release();
    const again = await store.locks.acquire('test:busy', { timeoutMs: 0 });
    await again();
  });

  if (factory.name === 'postgres')
    it('a wait leaves the pooled connection as it was: no lock timeout, the usual statement timeout', async () => {
      const before = await rowsOf<{ lock_timeout: string; statement_timeout: string }>(
        "select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout",
      );
      expect(before).toHaveLength(1);
      expect(before[0]?.lock_timeout).toBe('0');
      const release = await store.locks.acquire('test:settings', { timeoutMs: 0 });
      const waiting = store.locks.acquire('test:settings', { timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 50));
      await release();
      await (
        await waiting
      )();
      await expect(store.locks.acquire('test:settings-timeout', { timeoutMs: 0 }).then((r) => r())).resolves.toBeUndefined();
      // Every pooled connection (the waiter's included) still has the pool's settings.
      for (let i = 0; i < 5; i++) {
        const after = await rowsOf<{ lock_timeout: string; statement_timeout: string }>(
          "select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout",
        );
        expect(after).toEqual(before);
      }
    });
});
