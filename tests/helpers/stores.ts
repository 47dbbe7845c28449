import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/storage/db.js';

/**
 * The storage engines every storage test runs on: embedded PGlite always, and PostgreSQL when
 * TEST_DATABASE_URL is set (CI). Each PostgreSQL store gets a fresh database, dropped on close,
 * so test files can run in parallel against one server.
 */
export interface StoreFactory {
  name: 'pglite' | 'postgres';
  open(): Promise<Store>;
}

export const storeFactories: StoreFactory[] = [
  { name: 'pglite', open: () => openStore({ memory: true }) },
  ...(process.env.TEST_DATABASE_URL
    ? [{ name: 'postgres' as const, open: () => openScratchPostgres(process.env.TEST_DATABASE_URL as string) }]
    : []),
];

/** A new, empty database on the server at `adminUrl`: its URL, and how to drop it. */
export async function createScratchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `llm_trading_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** A store on a new database of the server at `adminUrl`, dropped when the store closes. */
export async function openScratchPostgres(adminUrl: string): Promise<Store> {
  const scratch = await createScratchDatabase(adminUrl);
  const store = await openStore({ databaseUrl: scratch.url, pool: { min: 0, max: 4, commandTimeoutMs: 30_000 } });
  return {
    ...store,
    close: async () => {
      await store.close();
      await scratch.drop();
    },
  };
}
