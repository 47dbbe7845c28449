import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp, type App, type OpenAppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/app-config.js';
import { parseEnv } from '../../src/config/env.js';
import type { Store } from '../../src/storage/db.js';

/** An offline App on the given store with its own temporary LLM_TRADING_HOME (for artifacts). */
export async function testApp(
  store: Store,
  env: NodeJS.ProcessEnv = {},
  options: Omit<OpenAppOptions, 'store'> = {},
): Promise<App & { home: string; cleanup(): Promise<void> }> {
  const home = mkdtempSync(join(tmpdir(), 'lt-home-'));
  // The config directory the environment names (as the CLI reads it), else the packaged config/.
  const app = await openApp(parseEnv({ LLM_TRADING_HOME: home, ...env }), loadConfig(env.LLM_TRADING_CONFIG_DIR), {
    offline: true,
    ...options,
    store,
  });
  // Closed before its folder goes: a backtest's artifact files are written behind, on a thread of
  // their own, and may still be landing in the folder after the run returned or threw.
  const cleanup = async () => {
    await app.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  };
  return { ...app, home, cleanup };
}

/** Empties every table of the schema (whatever tables later migrations add) so each test starts from a clean database without reopening it. */
export async function resetStore(store: Store): Promise<void> {
  const { sql } = await import('drizzle-orm');
  const result = await store.db.execute(sql`select tablename from pg_tables where schemaname = 'public' order by tablename`);
  const tables = (result as unknown as { rows: { tablename: string }[] }).rows.map((r) => sql.identifier(r.tablename));
  await store.db.execute(sql`truncate ${sql.join(tables, sql`, `)} restart identity`);
}
