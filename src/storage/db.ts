import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { PGLITE_PARSERS, withSharedParsers } from './pglite-client.js';
import { withPreparedStatements } from './pglite-prepared.js';
import { newPglite, unpackTemplateOnDisk } from './pglite-open.js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { describeDatabaseUrl } from '../config/env.js';
import { describeError, isNoSpace, StorageError } from '../errors.js';
import { acquireHomeLock, type HomeLock } from './home-lock.js';
import { AdvisoryLocks, ProcessLocks, type Locks } from './locks.js';
import * as schema from './schema.js';

/** One drizzle database type for both engines: the code above storage never asks which it got. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle has the same query surface as Db. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Store {
  db: Db;
  /** 'pglite' (embedded, under LLM_TRADING_HOME) or 'postgres' (DATABASE_URL). */
  kind: 'pglite' | 'postgres';
  /** Where the data lives, without credentials. */
  location: string;
  /** Named locks shared by every process on this database (see locks.ts). */
  locks: Locks;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

// src/storage and dist/storage are both two levels below the package root.
const MIGRATIONS = fileURLToPath(new URL('../../src/storage/migrations', import.meta.url));

export interface StoreOptions {
  databaseUrl?: string | undefined;
  /** LLM_TRADING_HOME; the embedded database lives in <home>/pgdata. */
  home?: string;
  /** In-memory PGlite (tests). */
  memory?: boolean;
  pool?: { min: number; max: number; commandTimeoutMs: number };
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /** Embedded database on disk: how long to wait for another process that has it open (default 600 s). */
  lockTimeoutMs?: number;
  /** What this process is doing, shown to another process waiting for the embedded database. */
  command?: string;
  /** Called once when another process holds the embedded database and this one starts waiting. */
  onLockWait?: (holder: string) => void;
  /**
   * PostgreSQL: the writes can be replayed from what was kept (a backtest continues at its first week
   * not stored), so a commit returns before its WAL reaches the disk (`synchronous_commit = off`). A
   * crash of the server or the machine may lose the last moments of commits — whole transactions,
   * never part of one; a crash of this process loses nothing. Never for live books. On this machine it
   * made an offline backtest on PostgreSQL about a fifth faster (scripts/bench-backtest.ts).
   * The embedded database is unaffected.
   */
  replayableWrites?: boolean;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 600_000;

/** The embedded database's folder under LLM_TRADING_HOME. */
export const embeddedDataDir = (home: string) => join(home, 'pgdata');
/** Its lock file: beside the folder, not in it (a file inside would make an empty folder look like a database). */
export const embeddedLockPath = (home: string) => `${embeddedDataDir(home)}.lock`;

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl ? await openPostgres(options.databaseUrl, options) : await openPglite(options);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw new StorageError(`cannot apply migrations to ${store.location}: ${describeError(error)}`, { cause: error });
    }
  }
  return store;
}

async function openPglite(options: StoreOptions): Promise<Store> {
  let client: PGlite;
  let location: string;
  let homeLock: HomeLock | undefined;
  // A new database starts from the build's template: migrated, unless migrations are not wanted.
  const migrationsFolder = options.migrate === false ? undefined : MIGRATIONS;
  if (options.memory || !options.home) {
    client = newPglite({ parsers: PGLITE_PARSERS, migrationsFolder }).client;
    location = 'pglite (in memory)';
  } else {
    const dataDir = embeddedDataDir(options.home);
    ensureWritableDir(options.home, 'LLM_TRADING_HOME');
    location = `pglite at ${dataDir}`;
    // One process at a time in the data folder, taken before PGlite touches it. The lock file lives
    // beside pgdata, not in it: a file inside would make an empty folder look like a database.
    homeLock = await acquireHomeLock(embeddedLockPath(options.home), {
      timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      command: options.command ?? 'llm-trading',
      ...(options.onLockWait ? { onWait: options.onLockWait } : {}),
    });
    // A new database is unpacked from the template first (smaller for the life of the process than
    // PGlite's own loader); if that cannot be done, newPglite loads the template, or runs initdb.
    await unpackTemplateOnDisk(dataDir, { migrationsFolder });
    client = newPglite({ dataDir, parsers: PGLITE_PARSERS, migrationsFolder }).client;
  }
  try {
    await client.waitReady;
    await client.query('select 1');
  } catch (error) {
    await client.close().catch(() => undefined);
    homeLock?.release();
    // No other process has the folder (we hold its lock): a full disk, or a damaged folder.
    const advice = isNoSpace(error)
      ? 'free some space and run again'
      : 'no other process has it open, so the folder may be damaged: keep a copy of it before changing anything';
    throw new StorageError(`cannot open the embedded database (${location}): ${describeError(error)}; ${advice}`, { cause: error });
  }
  const db = drizzlePglite(withSharedParsers(withPreparedStatements(client)), { schema });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    location,
    locks: new ProcessLocks(),
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS }),
    close: async () => {
      try {
        await client.close();
      } finally {
        homeLock?.release();
      }
    },
  };
}

/**
 * A checked-out client whose connection died is of no use to anyone, and one its user never gives back
 * holds pool.end() forever: drizzle 0.45's transaction() sends BEGIN outside its try, so a BEGIN on a
 * connection the server has just ended leaks the client (a worker then exited with code 13 at its
 * close, its pool waiting, after the database ended every connection). A moment after such a client's
 * error, if it is still out, it goes back to the pool with the error, which drops it. Every other user
 * gives its client back within milliseconds of the error (its statements fail at once).
 */
const DEAD_CLIENT_GRACE_MS = 5_000;

export interface DeadClientDropper {
  /**
   * The pool is closing: drops at once every dead client still out (nobody will give them back now),
   * and any that dies from now on, so the process does not wait out the grace: a command failing on a
   * restarted server exited about five seconds after its error.
   */
  dropNow(): void;
}

export function dropDeadClientsNotGivenBack(pool: pg.Pool, graceMs = DEAD_CLIENT_GRACE_MS): DeadClientDropper {
  const out = new Set<pg.PoolClient>();
  /** Clients whose connection died while out, with the timer that drops them. */
  const dead = new Map<pg.PoolClient, { error: Error; timer: NodeJS.Timeout }>();
  const forget = (client: pg.PoolClient) => {
    const entry = dead.get(client);
    if (entry) clearTimeout(entry.timer);
    dead.delete(client);
    return entry;
  };
  const drop = (client: pg.PoolClient) => {
    const entry = forget(client);
    if (entry && out.delete(client)) client.release(entry.error);
  };
  const givenBack = (client: pg.PoolClient) => {
    out.delete(client);
    forget(client);
  };
  pool.on('acquire', (client) => out.add(client));
  pool.on('release', (_error, client) => givenBack(client));
  pool.on('remove', (client) => givenBack(client as pg.PoolClient));
  let closing = false;
  pool.on('connect', (client) =>
    client.on('error', (error) => {
      const poolClient = client as pg.PoolClient;
      if (!out.has(poolClient) || dead.has(poolClient)) return;
      // Not unref'd: a process closing its pool must live until the client is dropped. Once the pool
      // is closing, a client that dies is dropped after its user's own handling of the error (which
      // gives it back, if it ever does, in the promise callbacks that run before a timer).
      dead.set(poolClient, { error, timer: setTimeout(() => drop(poolClient), closing ? 0 : graceMs) });
    }),
  );
  return {
    dropNow: () => {
      closing = true;
      [...dead.keys()].forEach(drop);
    },
  };
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.replayableWrites ? withServerOption(url, REPLAYABLE_COMMITS) : url,
    min: options.pool?.min ?? 0,
    max: options.pool?.max ?? 10,
    // DB_COMMAND_TIMEOUT bounds every statement, on the client and on the server.
    query_timeout: options.pool?.commandTimeoutMs,
    statement_timeout: options.pool?.commandTimeoutMs,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's network error must not crash the process; the next query reports it. Nor may a
  // checked-out one's (a transaction, a held lock: a server restart ends them all): its failing query
  // reports it, and the pool drops the client when it comes back.
  pool.on('error', () => undefined);
  const deadClients = dropDeadClientsNotGivenBack(pool);
  const location = describeDatabaseUrl(url);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new StorageError(`cannot connect to ${location}: ${describeError(error)}`, { cause: error });
  }
  const db = drizzleNodePg(pool, { schema });
  const locks = new AdvisoryLocks(pool);
  return {
    db: db as unknown as Db,
    kind: 'postgres',
    location,
    locks,
    // drizzle's migrator is not safe to run twice at once: processes starting together on a fresh
    // database would both create the tables. One migrates at a time; the next finds nothing to do.
    migrate: async () => {
      const release = await locks.acquire('migrations', { timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS });
      try {
        await migrateNodePg(db, { migrationsFolder: MIGRATIONS });
      } finally {
        await release();
      }
    },
    close: () => {
      deadClients.dropNow();
      return pool.end();
    },
  };
}

/**
 * Sent in each connection's startup packet (the `options` connection parameter), so the setting holds
 * from the connection's first statement without a statement of its own: a `set` queued by the pool's
 * 'connect' event ran beside the caller's first query, which node-postgres deprecates (and prints).
 */
const REPLAYABLE_COMMITS = '-c synchronous_commit=off';

/**
 * `url` with `option` added to its `options` parameter. node-postgres lets a parameter in the URL win
 * over the same one given beside it, so a user's own `?options=…` is kept and ours appended to it.
 */
export function withServerOption(url: string, option: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // not a URL (a socket path, say): connect as given, with durable commits
  }
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', existing ? `${existing} ${option}` : option);
  return parsed.toString();
}

function ensureWritableDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new StorageError(`${what} ${dir} is not a writable directory: ${describeError(error)}`, { cause: error });
  }
}
