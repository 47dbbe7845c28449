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
import { openStore, withServerOption, type Db } from '../src/storage/db.js';
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

describe('withServerOption: a server setting in the connection URL', () => {
  it("adds it as the options parameter, after the user's own, and keeps everything else", () => {
    const parse = (url: string) => new URL(url);
    const plain = parse(withServerOption('postgres://u:p%40ss@db.example:5432/llm', '-c synchronous_commit=off'));
    expect(plain.searchParams.get('options')).toBe('-c synchronous_commit=off');
    expect([plain.username, plain.password, plain.host, plain.pathname]).toEqual(['u', 'p%40ss', 'db.example:5432', '/llm']);
    const own = parse(withServerOption('postgres://u@h/db?sslmode=require&options=-c%20search_path%3Dx', '-c synchronous_commit=off'));
    expect(own.searchParams.get('options')).toBe('-c search_path=x -c synchronous_commit=off');
    expect(own.searchParams.get('sslmode')).toBe('require');
  });

  it('leaves a string that is not a URL as it is', () => {
    expect(withServerOption('/var/run/postgresql llm', '-c x=y')).toBe('/var/run/postgresql llm');
  });
});

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
    // No statement of its own on a new connection: node-postgres warns (on the user's stderr) when a
    // query is sent while another runs on the same client.
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    const replayable = await openStore({ databaseUrl: scratch.url, pool, replayableWrites: true });
    const durable = await openStore({ databaseUrl: scratch.url, pool, migrate: false });
    try {
      expect(await commitModes(replayable.db, 4)).toEqual(['off', 'off', 'off', 'off']);
      expect(await commitModes(durable.db, 4)).toEqual(['on', 'on', 'on', 'on']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => /already executing a query/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
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
