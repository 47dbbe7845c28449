/**
 * What an offline backtest decides, as one JSON file: its stored report (`backtest show NAME --json`)
 * and the books it left (orders, fills, positions, accounts, the orders' audit events, the checkpoint
 * updates), without the columns that hold wall-clock times. Run it before and after a change meant
 * only to make backtests faster, and compare the two files: they must be byte-equal.
 *
 *   npx tsx scripts/backtest-fingerprint.ts OUT.json [FROM] [WEEKS]   (default 2011-01-19, 52 weeks)
 *   cmp before.json after.json
 *
 * Runs the built CLI (`npm run build` first) on a new LLM_TRADING_HOME with the embedded database.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { addDays } from '../src/market/calendar.js';
import { openStore } from '../src/storage/db.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const NAME = 'fingerprint';

// Ordered by a key that does not depend on insertion timing; wall-clock columns (created_at) left out.
const TABLES: Record<string, string> = {
  orders: 'select * from orders order by client_order_id',
  fills: 'select * from fills order by id',
  positions: 'select * from positions order by portfolio, account_id, ticker',
  accounts: 'select portfolio, id, owner, broker, starting_cash, cash from accounts order by portfolio, id',
  order_events: `select idempotency_key, portfolio, week_id, kind, stage, seat, payload from events where kind = 'order' order by id`,
  checkpoint_updates: `select portfolio, week_id, checkpoint_at, account_id, owner, agent, status, proposed_action, action,
      conviction_before, conviction_after, reason, invalidation_fired, claimed_invalidation, trigger, position, indicators,
      order_ids, error from checkpoint_updates order by portfolio, checkpoint_at, account_id`,
};

function cli(home: string, args: string[]): string {
  const child = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, LLM_TRADING_HOME: home, DATABASE_URL: '' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`llm-trading ${args.join(' ')} failed (exit ${child.status}): ${child.stderr}`);
  return child.stdout;
}

const [out, from = '2011-01-19', weeks = '52'] = process.argv.slice(2);
if (!out) throw new Error('usage: tsx scripts/backtest-fingerprint.ts OUT.json [FROM] [WEEKS]');
const to = addDays(from, 7 * (Number(weeks) - 1));
const home = mkdtempSync(join(tmpdir(), 'lt-fingerprint-'));
try {
  cli(home, ['backtest', '--from', from, '--to', to, '--offline', '--name', NAME]);
  const fingerprint: Record<string, unknown> = { report: JSON.parse(cli(home, ['backtest', 'show', NAME, '--json'])) as unknown };
  const store = await openStore({ home, migrate: false });
  try {
    for (const [table, query] of Object.entries(TABLES)) {
      fingerprint[table] = ((await store.db.execute(sql.raw(query))) as unknown as { rows: unknown[] }).rows;
    }
  } finally {
    await store.close();
  }
  const text = JSON.stringify(fingerprint, null, 1);
  writeFileSync(out, text);
  for (const [part, value] of Object.entries(fingerprint)) {
    const rows = Array.isArray(value) ? `${value.length} rows, ` : '';
    console.log(`${part.padEnd(20)} ${rows}sha256 ${createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)}`);
  }
  console.log(`${from}..${to}: written to ${out}`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
