/**
 * A backtest's writes are replayable (it continues at its first week not stored), so on PostgreSQL its
 * connections commit without waiting for the disk (`synchronous_commit = off`, storage/db.ts); a live
 * portfolio's never do. Every connection of the pool must have it, not only the first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config/app-config.js';
import { parseEnv } from '../src/config/env.js';
import { openStore, type Db } from '../src/storage/db.js';
import { createScratchDatabase } from './helpers/stores.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL;

/** synchronous_commit as each of `n` connections held at once sees it. */
async function commitModes(db: Db, n: number): Promise<string[]> {
  const read = async () => {
    // The sleep keeps each connection busy, so the pool opens n of them.
    const result = await db.execute(sql`select current_setting('synchronous_commit') as mode from pg_sleep(0.05)`);
    return (result as unknown as { rows: { mode: string }[] }).rows[0]?.mode ?? '';
  };
  return Promise.all(Array.from({ length: n }, read));
}

describe.skipIf(!ADMIN_URL)('replayable writes (PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let home: string;
  beforeAll(async () => {
    scratch = await createScratchDatabase(ADMIN_URL as string);
    home = mkdtempSync(join(tmpdir(), 'lt-replayable-'));
  });
  afterAll(async () => {
    await scratch.drop();
    rmSync(home, { recursive: true, force: true });
  });

  it('a store for replayable writes commits without waiting for the disk on every connection; the default store waits', async () => {
    const pool = { min: 0, max: 4, commandTimeoutMs: 30_000 };
    const replayable = await openStore({ databaseUrl: scratch.url, pool, replayableWrites: true });
    const durable = await openStore({ databaseUrl: scratch.url, pool, migrate: false });
    try {
      expect(await commitModes(replayable.db, 4)).toEqual(['off', 'off', 'off', 'off']);
      expect(await commitModes(durable.db, 4)).toEqual(['on', 'on', 'on', 'on']);
    } finally {
      await replayable.close();
      await durable.close();
    }
  });

  it("a backtest's app opens a replayable store, a live portfolio's a durable one", async () => {
    const env = parseEnv({ DATABASE_URL: scratch.url, LLM_TRADING_HOME: home });
    const config = loadConfig();
    const backtest = await openApp(env, config, { offline: true, portfolio: 'bt-replayable', portfolioKind: 'backtest' });
    try {
      expect(await commitModes(backtest.store.db, 2)).toEqual(['off', 'off']);
    } finally {
      await backtest.close();
    }
    const live = await openApp(env, config, { offline: true, portfolio: 'live-durable' });
    try {
      expect(await commitModes(live.store.db, 2)).toEqual(['on', 'on']);
    } finally {
      await live.close();
    }
  });
});
