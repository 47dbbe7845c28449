/**
 * The real command line in child processes (`node dist/cli.js`), for what only processes can show:
 * two at once on one database, a kill -9 in the middle. dist/ is built by `npm run build` (and by the
 * test setup when it is older than src/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../src/storage/db.js';
import { accounts, orders, positions } from '../../src/storage/schema.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
}

/** Starts `llm-trading <args>` with exactly this environment (plus PATH), never a .env file. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })),
  );
  return { child, done };
}

export const runCli = (args: readonly string[], env: NodeJS.ProcessEnv) => startCli(args, env).done;

/** What a portfolio's books hold: every order in order placed, every position, every account's cash. */
export async function booksOf(db: Db, portfolio: string) {
  const placed = await db
    .select()
    .from(orders)
    .where(eq(orders.portfolio, portfolio))
    .orderBy(asc(orders.weekId), asc(orders.accountId), asc(orders.submittedAt), asc(orders.checkpoint), asc(orders.sequence));
  const held = await db
    .select()
    .from(positions)
    .where(eq(positions.portfolio, portfolio))
    .orderBy(asc(positions.accountId), asc(positions.ticker));
  const cash = await db
    .select()
    .from(accounts)
    .where(and(eq(accounts.portfolio, portfolio)))
    .orderBy(asc(accounts.id));
  return {
    orders: placed.map((o) => ({
      week: o.weekId,
      checkpoint: o.checkpoint,
      account: o.accountId,
      sequence: o.sequence,
      action: o.action,
      side: o.side,
      qty: o.qty,
      status: o.status,
      price: o.filledAvgPrice,
    })),
    positions: held.map((p) => ({ account: p.accountId, ticker: p.ticker, qty: p.qty, avg: p.avgEntryPrice })),
    cash: cash.map((a) => ({ account: a.id, cash: a.cash })),
  };
}
