/**
 * A week the data has not reached yet runs as far as the data goes, as it will live at 08:00 on a
 * Wednesday: with bars through Tuesday only, the decision is made and sized, the orders wait for the
 * open (`pending_open`, listed with the ids they will get), and the week continues — fills, then
 * checkpoints — when the command runs again after the data has grown. The result equals a clean run.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMarketDataDir } from '../src/market/bundled-market-data.js';
import { cli } from './helpers/cli.js';

const WEEK = '2025-06-18';
let root: string;
let tuesday: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lt-pending-'));
  // The bundled bars as they stood on the evening of Tuesday 2025-06-17.
  tuesday = join(root, 'bars');
  cpSync(defaultMarketDataDir(), tuesday, { recursive: true });
  for (const file of readdirSync(tuesday).filter((f) => f.endsWith('.csv'))) {
    const lines = readFileSync(join(tuesday, file), 'utf8').split('\n');
    writeFileSync(join(tuesday, file), lines.filter((l) => !/^\d/.test(l) || l.slice(0, 10) <= '2025-06-17').join('\n'));
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a week before its open', () => {
  it('decides and waits for the open, then continues with exactly the orders it announced', async () => {
    const home = join(root, 'live');
    const early = await cli(['week', '--week', WEEK, '--json'], { LLM_TRADING_HOME: home, MARKET_DATA_DIR: tuesday });
    expect(early.code, early.stderr).toBe(0);
    const waiting = JSON.parse(early.stdout);
    expect(waiting.weekly.status).toBe('pending_open');
    expect(waiting.weekly.stages).toMatchObject({ chairman: 'completed', risk: 'completed', execute: 'pending' });
    expect(waiting.weekly.accounts.every((a: { orders: unknown[] }) => a.orders.length === 0)).toBe(true);
    expect(waiting.checkpoints).toEqual([]);
    expect(waiting.waiting_for_data).toHaveLength(16);
    expect(waiting.postmortem).toBeNull();
    const announced = (waiting.weekly.pending_orders as { client_order_id: string; side: string; qty: number; ticker: string }[]).map(
      (o) => `${o.client_order_id} ${o.side} ${o.qty} ${o.ticker}`,
    );
    expect(announced.length).toBeGreaterThan(0);
    const status = JSON.parse((await cli(['status', '--json'], { LLM_TRADING_HOME: home, MARKET_DATA_DIR: tuesday })).stdout);
    expect(status[0]).toMatchObject({ week_id: WEEK, status: 'pending_open' });
    const text = await cli(['run_weekly', '--week', WEEK], { LLM_TRADING_HOME: home, MARKET_DATA_DIR: tuesday });
    expect(text.stdout).toMatch(/Waiting for the 2025-06-18 open: no bar for that day in the market data yet\. \d+ orders? will be placed/);

    // The data grows: the same command continues the week.
    const later = await cli(['week', '--week', WEEK, '--json'], { LLM_TRADING_HOME: home });
    expect(later.code, later.stderr).toBe(0);
    const done = JSON.parse(later.stdout);
    expect(done.weekly.status).toBe('completed');
    const placed = done.weekly.accounts.flatMap((a: { orders: { client_order_id: string; side: string; qty: number; ticker: string }[] }) =>
      a.orders.map((o) => `${o.client_order_id} ${o.side} ${o.qty} ${o.ticker}`),
    );
    expect(placed.sort()).toEqual([...announced].sort());
    expect(done.checkpoints.filter((c: { status: string }) => c.status === 'completed')).toHaveLength(15);

    // The same as one clean run with the whole data from the start.
    const clean = JSON.parse((await cli(['week', '--week', WEEK, '--json'], { LLM_TRADING_HOME: join(root, 'clean') })).stdout);
    const actions = (w: typeof done) =>
      w.checkpoints.flatMap((c: { date: string; time: string; updates: { account_id: number; action: string }[] }) =>
        c.updates.map((u) => `${c.date} ${c.time} ${u.account_id} ${u.action}`),
      );
    expect(actions(done)).toEqual(actions(clean));
    expect(done.postmortem.accounts.map((a: { end_equity: number }) => a.end_equity)).toEqual(
      clean.postmortem.accounts.map((a: { end_equity: number }) => a.end_equity),
    );
  });
});
