import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { PGLITE_PARSERS, withSharedParsers } from './pglite-client.js';
import { newPglite } from './pglite-open.js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { describeDatabaseUrl } from '../config/env.js';
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
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export class StorageError extends Error {}

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
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl ? await openPostgres(options.databaseUrl, options) : await openPglite(options);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw new StorageError(`cannot apply migrations to ${store.location}: ${messageOf(error)}`);
    }
  }
  return store;
}

async function openPglite(options: StoreOptions): Promise<Store> {
  let client: PGlite;
  let location: string;
  // A new database starts from the build's template: migrated, unless migrations are not wanted.
  const migrationsFolder = options.migrate === false ? undefined : MIGRATIONS;
  if (options.memory || !options.home) {
    client = newPglite({ parsers: PGLITE_PARSERS, migrationsFolder }).client;
    location = 'pglite (in memory)';
  } else {
    const dataDir = join(options.home, 'pgdata');
    ensureWritableDir(options.home, 'LLM_TRADING_HOME');
    location = `pglite at ${dataDir}`;
    client = newPglite({ dataDir, parsers: PGLITE_PARSERS, migrationsFolder }).client;
  }
  try {
    await client.waitReady;
    await client.query('select 1');
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new StorageError(
      `cannot open the embedded database (${location}); it may be corrupted — move it away to start fresh: ${messageOf(error)}`,
    );
  }
  const db = drizzlePglite(withSharedParsers(client), { schema });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    location,
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS }),
    close: () => client.close(),
  };
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    min: options.pool?.min ?? 0,
    max: options.pool?.max ?? 10,
    // DB_COMMAND_TIMEOUT bounds every statement, on the client and on the server.
    query_timeout: options.pool?.commandTimeoutMs,
    statement_timeout: options.pool?.commandTimeoutMs,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's network error must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const location = describeDatabaseUrl(url);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new StorageError(`cannot connect to ${location}: ${messageOf(error)}`);
  }
  const db = drizzleNodePg(pool, { schema });
  return {
    db: db as unknown as Db,
    kind: 'postgres',
    location,
    migrate: () => migrateNodePg(db, { migrationsFolder: MIGRATIONS }),
    close: () => pool.end(),
  };
}

function ensureWritableDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new StorageError(`${what} ${dir} is not a writable directory: ${messageOf(error)}`);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
