import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledMarketData } from '../src/market/bundled-market-data.js';
import type { Postmortem } from '../src/metrics/postmortem.js';
import { openStore } from '../src/storage/db.js';
import { events } from '../src/storage/schema.js';
import { eq } from 'drizzle-orm';
import { cli } from './helpers/cli.js';

let root: string;
const home = (name: string) => join(root, name);
const data = new BundledMarketData();
const closeOf = async (ticker: string, date: string) => {
  const [bar] = await data.bars(ticker, date, 1);
  expect(bar?.date).toBe(date);
  return bar!.close;
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lt-postmortem-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function postmortem(week: string, env: NodeJS.ProcessEnv): Promise<Postmortem> {
  const run = await cli(['postmortem', '--week', week, '--json'], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Postmortem;
}

describe('llm-trading postmortem', () => {
  const env = () => ({ LLM_TRADING_HOME: home('weeks') });
  interface Executed {
    accounts: {
      account_id: number;
      cash: number;
      position: { ticker: string; qty: number } | null;
      trade: { conviction: number } | null;
    }[];
  }
  let first: Executed;

  beforeAll(async () => {
    const run = await cli(['run_weekly', '--week', '2024-03-06', '--json'], env());
    expect(run.code, run.stderr).toBe(0);
    first = JSON.parse(run.stdout) as Executed;
  });

  it("measures each account from the last close the decision saw to the week's last close", async () => {
    const pm = await postmortem('2024-03-06', env());
    expect(pm).toMatchObject({
      week_id: '2024-03-06',
      data_through: '2024-03-05',
      fill_date: '2024-03-06',
      week_end: '2024-03-12',
      through: '2024-03-12',
      complete: true,
      checkpoints: 0,
    });
    expect(pm.accounts.map((a) => a.account_id)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const account of first.accounts) {
      const measured = pm.accounts.find((a) => a.account_id === account.account_id)!;
      // Independently: the cash after the open's orders plus the position at the 03-12 close.
      let end = account.cash;
      if (account.position) end += account.position.qty * (await closeOf(account.position.ticker, '2024-03-12'));
      expect(measured.start_equity).toBe(100_000);
      expect(measured.end_equity).toBeCloseTo(end, 2);
      expect(measured.pnl).toBeCloseTo(end - 100_000, 2);
      expect(measured.pnl_pct).toBeCloseTo((end - 100_000) / 100_000, 4);
      expect(measured.equity_path.map((p) => p.date)).toEqual([
        '2024-03-05',
        '2024-03-06',
        '2024-03-07',
        '2024-03-08',
        '2024-03-11',
        '2024-03-12',
      ]);
      expect(measured.max_drawdown).toBeGreaterThanOrEqual(0);
      expect(measured.fills).toBe(account.position ? 1 : 0);
      if (account.trade) expect(measured.conviction_volatility).toBe(0);
      for (const key of ['pnl', 'pnl_pct', 'max_drawdown', 'turnover', 'conviction_volatility', 'panic_exits', 'hit_rate'])
        expect(measured).toHaveProperty(key);
    }
    const council = pm.accounts.find((a) => a.owner === 'council')!;
    const individuals = pm.accounts.filter((a) => a.owner !== 'council');
    expect(pm.council_vs_individuals).toMatchObject({
      council: { account_id: 5, pnl: council.pnl },
      beat: individuals.filter((a) => council.pnl > a.pnl).length,
      of: 5,
    });
    expect(pm.benchmarks.flat).toEqual({ pnl_pct: 0, max_drawdown: 0 });
    expect(pm.benchmarks.spy_buy_hold.pnl_pct).toBeCloseTo(
      (await closeOf('SPY', '2024-03-12')) / (await closeOf('SPY', '2024-03-05')) - 1,
      4,
    );
    expect(pm.usage).toMatchObject({ calls: 0, cost_usd: 0, by_seat: [] });

    // Kept: one 'postmortem' event (a second run adds none) and the artifact.
    await postmortem('2024-03-06', env());
    const store = await openStore({ home: home('weeks') });
    const kept = await store.db.select().from(events).where(eq(events.kind, 'postmortem'));
    await store.close();
    expect(kept.map((e) => e.idempotencyKey)).toEqual(['postmortem:default:2024-03-06:2024-03-12']);
    const artifact = join(home('weeks'), 'runs', 'default', '2024-03-06', 'normalized', 'postmortem.json');
    expect(JSON.parse(readFileSync(artifact, 'utf8'))).toEqual(pm);
  });

  it('starts the next week from where the last one ended', async () => {
    const run = await cli(['run_weekly', '--week', '2024-03-13'], env());
    expect(run.code, run.stderr).toBe(0);
    const one = await postmortem('2024-03-06', env());
    const two = await postmortem('2024-03-13', env());
    for (const a of two.accounts) {
      const before = one.accounts.find((b) => b.account_id === a.account_id)!;
      // Week 2 starts at the 03-12 close, where week 1 ended; later fills do not change week 1.
      expect(a.start_equity).toBe(before.end_equity);
      expect(before.pnl + a.pnl).toBeCloseTo(a.end_equity - 100_000, 2);
    }
  });

  it('prints a table with the council against the PMs and the benchmarks', async () => {
    const run = await cli(['postmortem', '--week', '2024-03-06'], env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Postmortem — week 2024-03-06, portfolio default \(2024-03-05 close → 2024-03-12 close\)/);
    expect(run.stdout).toMatch(/council [+-]\d+\.\d\d%: beat \d of 5 individual PMs, rank \d of 6/);
    expect(run.stdout).toMatch(/benchmarks: FLAT \+0\.00% · SPY buy-and-hold [+-]\d+\.\d\d%/);
  });
});

describe('postmortem of a week that is not over, or not run', () => {
  it('measures through the last close in the data and says the week is not over', async () => {
    const env = { LLM_TRADING_HOME: home('running') };
    // The bundled UUP and USO bars end on Friday 2025-06-27; that week ends on Tuesday 07-01.
    expect((await cli(['run_weekly', '--week', '2025-06-25'], env)).code).toBe(0);
    const pm = await postmortem('2025-06-25', env);
    expect(pm).toMatchObject({ through: '2025-06-27', week_end: '2025-07-01', complete: false });
    expect(pm.notes[0]).toMatch(/the week is not over: measured through the 2025-06-27 close/);
    expect(pm.accounts[0]!.equity_path.at(-1)!.date).toBe('2025-06-27');
  });

  it('names the command to run first when the week was not executed', async () => {
    const run = await cli(['postmortem', '--week', '2024-03-06'], { LLM_TRADING_HOME: home('empty') });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      'llm-trading: the week of 2024-03-06 has not been executed in portfolio default: run `llm-trading run_weekly --week 2024-03-06` first',
    );
    expect(existsSync(join(home('empty'), 'runs', 'default', '2024-03-06', 'normalized', 'postmortem.json'))).toBe(false);
  });
});
