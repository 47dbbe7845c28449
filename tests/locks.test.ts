import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AdvisoryLocks, LockTimeoutError, advisoryKey } from '../src/storage/locks.js';
import { dropDeadClientsNotGivenBack } from '../src/storage/db.js';
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

/**
 * The server ends the connection that holds a lock (a restart, an administrator, the network): the
 * process does not crash on the connection's error; it takes the lock back on a new connection, or,
 * when another process took it first, says so (by default it then stops: see OnLockLost).
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('a lock whose connection the server ends (PostgreSQL)', () => {
  const url = process.env.TEST_DATABASE_URL as string;
  let pool: pg.Pool;
  let other: pg.Client;
  const lost: string[] = [];
  let locks: AdvisoryLocks;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined)); // as db.ts opens it
    locks = new AdvisoryLocks(pool, (name) => lost.push(name));
    other = new pg.Client({ connectionString: url });
    await other.connect();
  });
  afterAll(async () => {
    await other.end();
    await pool.end();
  });
  /** The backend holding the lock `name`. */
  const holder = async (name: string): Promise<number | undefined> => {
    const key = BigInt.asUintN(64, BigInt(advisoryKey(name)));
    const { rows } = await other.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and classid = $1 and objid = $2`,
      [String(key >> 32n), String(key & 0xffffffffn)],
    );
    return rows[0]?.pid;
  };
  const terminate = (pid: number) => other.query('select pg_terminate_backend($1)', [pid]);
  const takenByOther = async (name: string) =>
    (await other.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [advisoryKey(name)])).rows[0]?.ok;

  it('takes the lock back on a new connection, still its own, and lets go of it when released', async () => {
    const release = await locks.acquire('test:restart', { timeoutMs: 0 });
    const first = await holder('test:restart');
    expect(first).toBeDefined();
    await terminate(first as number);
    let again: number | undefined;
    for (let i = 0; i < 100 && (again === undefined || again === first); i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await holder('test:restart');
    }
    expect(again).toBeDefined();
    expect(again).not.toBe(first);
    expect(await takenByOther('test:restart')).toBe(false);
    expect(lost).toEqual([]);
    await release();
    expect(await holder('test:restart')).toBeUndefined();
  });

  it('says it lost the lock when another process took it first', async () => {
    await locks.acquire('test:stolen', { timeoutMs: 0 });
    const first = await holder('test:stolen');
    await terminate(first as number);
    // Waiting in line before the holder's backend has even gone: this session gets the lock first.
    await other.query('select pg_advisory_lock($1::bigint)', [advisoryKey('test:stolen')]);
    for (let i = 0; i < 100 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lost).toEqual(['test:stolen']);
    await other.query('select pg_advisory_unlock($1::bigint)', [advisoryKey('test:stolen')]);
  });

  it('a lock let go of while the server is away stops trying to take it back, so the process can exit', async () => {
    // As a command that fails while the server restarts: the lock's connection ends, new connections
    // are refused, and the command lets go of the lock on its way out.
    const refusing = new pg.Pool({ connectionString: url, max: 2 });
    refusing.on('error', () => undefined);
    refusing.on('connect', (client) => client.on('error', () => undefined));
    const connect = refusing.connect.bind(refusing);
    let refused = 0;
    let down = false;
    refusing.connect = (() => {
      if (!down) return connect();
      refused++;
      return Promise.reject(new Error('connect ECONNREFUSED (test)'));
    }) as typeof refusing.connect;
    try {
      const release = await new AdvisoryLocks(refusing, (name) => lost.push(name)).acquire('test:let-go', { timeoutMs: 0 });
      down = true;
      await terminate((await holder('test:let-go')) as number);
      for (let i = 0; i < 100 && refused === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(refused).toBeGreaterThan(0); // trying to take it back
      await release();
      await new Promise((r) => setTimeout(r, 600)); // two retry periods: the try under way ends
      const settled = refused;
      await new Promise((r) => setTimeout(r, 1_000));
      expect(refused).toBe(settled); // then no more
      expect(lost).not.toContain('test:let-go');
    } finally {
      await refusing.end();
    }
  });

  it(
    'a checked-out client whose connection died and that nobody gives back is dropped, so the pool can close',
    { timeout: 20_000 },
    async () => {
      const leaky = new pg.Pool({ connectionString: url, max: 2 });
      leaky.on('error', () => undefined);
      dropDeadClientsNotGivenBack(leaky, 200);
      const client = await leaky.connect(); // as drizzle's transaction() holds it when its BEGIN fails: never released
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      await terminate(rows[0]?.pid as number);
      const started = Date.now();
      await leaky.end();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(leaky.totalCount).toBe(0);
    },
  );

  it(
    'a pool closing drops its dead clients at once, not after the grace; one given back in time is not released twice',
    { timeout: 20_000 },
    async () => {
      const leaky = new pg.Pool({ connectionString: url, max: 3 });
      leaky.on('error', () => undefined);
      const dropper = dropDeadClientsNotGivenBack(leaky, 60_000);
      const leaked = await leaky.connect(); // never given back
      const returned = await leaky.connect(); // given back by its user after the error, as a failing query's user does
      const pids = await Promise.all(
        [leaked, returned].map(async (c) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid as number),
      );
      const failed = Promise.all([leaked, returned].map((c) => c.query('select pg_sleep(30)').catch((error: Error) => error)));
      for (const pid of pids) await terminate(pid);
      expect((await failed).every((e) => e instanceof Error)).toBe(true);
      returned.release(new Error('its connection died'));
      const started = Date.now();
      dropper.dropNow();
      await leaky.end();
      // The grace is a minute: the pool closed without waiting for it.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(leaky.totalCount).toBe(0);
    },
  );
});
