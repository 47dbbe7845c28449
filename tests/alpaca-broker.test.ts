import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlpacaBroker, timeInForceOf } from '../src/broker/alpaca-broker.js';
import { AlpacaClient } from '../src/broker/alpaca/client.js';
import { planOrders } from '../src/broker/order-plan.js';
import { parseEnv } from '../src/config/env.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { portfolioTag } from '../src/portfolio/portfolio.js';
import type { OrderRequest } from '../src/ports/broker.js';
import type { Store } from '../src/storage/db.js';
import { accounts, fills, orders, positions } from '../src/storage/schema.js';
import { openAtFirstOrderFound, setPricesFromBundle, startAlpacaStandIn, type AlpacaStandIn } from './helpers/alpaca-stand-in.js';
import { resetStore, testApp } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

/**
 * The Alpaca broker adapter against the spec-validating Alpaca stand-in, six paper accounts with a key
 * pair each. Every test ends with no spec violation seen by the stand-in.
 */

const WEEK = '2024-03-06';
const keyId = (n: number): string => `PKSTANDINACCT${n}KEY0001`;
const secret = (n: number): string => `sEcReT-acct${n}-0123456789abcdefghijklmnopqrstuvwxyz`;

let standIn: AlpacaStandIn;
let store: Store;

function alpacaEnv(bad?: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { APCA_API_BASE_URL: standIn.tradingUrl, APCA_DATA_BASE_URL: standIn.dataUrl };
  for (let n = 1; n <= 6; n++) {
    env[`APCA_ACCT${n}_KEY_ID`] = keyId(n);
    env[`APCA_ACCT${n}_SECRET_KEY`] = n === bad ? 'wrong-secret-for-this-key' : secret(n);
  }
  return env;
}

function postsOf(clientOrderId?: string): number {
  return standIn
    .calls('postOrder')
    .filter((r) => clientOrderId === undefined || (r.body as { client_order_id?: string }).client_order_id === clientOrderId).length;
}

function clientOf(n: number): AlpacaClient {
  return new AlpacaClient({ keyId: keyId(n), secretKey: secret(n), tradingBaseUrl: standIn.tradingUrl, accountLabel: String(n) });
}

function brokerOf(portfolio = 'alpaca-test'): AlpacaBroker {
  const clients = new Map([1, 2, 3, 4, 5, 6].map((n) => [n, clientOf(n)]));
  return new AlpacaBroker({ db: store.db, portfolio, clients, orderWaitMs: 200, fillTimeoutMs: 200, pollMs: 5 });
}

function plan(
  accountId: number,
  checkpoint: string,
  held: { ticker: string; qty: number }[],
  target: { ticker: string; qty: number } | null,
  sequence = 0,
): OrderRequest[] {
  return planOrders({ portfolioTag: portfolioTag('alpaca-test'), weekId: WEEK, accountId, checkpoint, sequence, positions: held, target });
}

async function ledger(portfolio: string, accountId: number) {
  const held = await store.db
    .select({ ticker: positions.ticker, qty: positions.qty })
    .from(positions)
    .where(and(eq(positions.portfolio, portfolio), eq(positions.accountId, accountId)));
  return Object.fromEntries(held.map((p) => [p.ticker, p.qty]));
}

function alpacaPositions(n: number): Record<string, number> {
  return Object.fromEntries([...standIn.account(keyId(n)).positions].filter(([, p]) => p.qty !== 0).map(([s, p]) => [s, p.qty]));
}

describe('llm-trading with BROKER=alpaca (CLI, embedded database)', () => {
  beforeEach(async () => {
    standIn = await startAlpacaStandIn();
    for (let n = 1; n <= 6; n++) standIn.addAccount({ keyId: keyId(n), secretKey: secret(n), cash: 100_000 });
    await setPricesFromBundle(standIn);
  });
  afterEach(async () => {
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  it('run_weekly trades the six paper accounts at the open; accounts shows Alpaca beside the books', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lt-alpaca-cli-'));
    try {
      // Tuesday's close happened at Alpaca (its portfolio history has it), then Wednesday 08:00.
      const wednesday = standIn.clock();
      standIn.setClock({
        now: '2024-03-05T14:00:00Z',
        isOpen: true,
        nextOpen: '2024-03-06T14:30:00Z',
        nextClose: '2024-03-05T21:00:00Z',
      });
      standIn.close();
      standIn.setClock({
        now: new Date(wednesday.now).toISOString(),
        isOpen: false,
        nextOpen: new Date(wednesday.nextOpen).toISOString(),
        nextClose: new Date(wednesday.nextClose).toISOString(),
      });
      openAtFirstOrderFound(standIn);
      const env = { ...alpacaEnv(), LLM_TRADING_HOME: home, ALPACA_FILL_TIMEOUT_SECONDS: '10', ALPACA_POLL_SECONDS: '0.05' };
      const run = await cli(['run_weekly', '--as-of', WEEK, '--json'], env);
      expect(run.stderr).not.toContain(secret(1));
      if (run.code !== 0) throw new Error(`run_weekly failed: ${run.stderr}`);
      const result = JSON.parse(run.stdout) as { status: string };
      expect(result.status).toBe('completed');
      const shown = await cli(['accounts', '--json'], env);
      expect(shown.code).toBe(0);
      const rows = JSON.parse(shown.stdout) as {
        account_id: number;
        equity: number;
        positions_match: boolean;
        pnl_today: number | null;
        pnl_week: number | null;
        books: { positions: Record<string, number> };
      }[];
      expect(rows).toHaveLength(6);
      for (const r of rows) {
        expect(r.positions_match).toBe(true);
        expect(r.books.positions).toEqual(alpacaPositions(r.account_id));
        // Alpaca's today: its equity against its last_equity; its week: against Tuesday's close in
        // its portfolio history (the close the weekly decision saw), the starting 100,000.
        const acct = standIn.account(keyId(r.account_id));
        expect(acct.lastEquity).toBe(100_000);
        expect(r.pnl_today).toBeCloseTo(r.equity - acct.lastEquity, 2);
        expect(r.pnl_week).toBeCloseTo(r.equity - 100_000, 2);
      }
      expect(rows.flatMap((r) => Object.keys(r.books.positions)).length).toBeGreaterThan(0);
      const text = await cli(['accounts'], env);
      expect(text.stdout).toMatch(/Alpaca's paper accounts now, beside the books/);
      expect(text.stdout).not.toMatch(/differs from Alpaca/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe.each(storeFactories)('Alpaca broker ($name)', (factory) => {
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await resetStore(store);
    standIn = await startAlpacaStandIn();
    for (let n = 1; n <= 6; n++) standIn.addAccount({ keyId: keyId(n), secretKey: secret(n), cash: 100_000 });
    await setPricesFromBundle(standIn);
  });
  afterEach(async () => {
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  it('the timing of an order: weekly and before the open → opg, 15:50 → cls, the session → day', () => {
    expect(timeInForceOf('weekly')).toBe('opg');
    expect(timeInForceOf('2024-03-07T09:00')).toBe('opg');
    expect(timeInForceOf('2024-03-07T12:00')).toBe('day');
    expect(timeInForceOf('2024-03-07T15:50')).toBe('cls');
  });

  it('the broker is chosen from the keys: all six → alpaca, some → refused naming the missing variables', async () => {
    expect(parseEnv(alpacaEnv()).broker).toBe('alpaca');
    expect(parseEnv({ ...alpacaEnv(), BROKER: 'sim' }).broker).toBe('sim');
    const partial = { ...alpacaEnv(), APCA_ACCT4_SECRET_KEY: '', APCA_ACCT6_KEY_ID: '' };
    expect(parseEnv(partial).broker).toBe('sim');
    await expect(testApp(store, partial)).rejects.toThrow(/APCA_ACCT4_SECRET_KEY, APCA_ACCT6_KEY_ID/);
    await expect(testApp(store, { ...partial, BROKER: 'alpaca' })).rejects.toThrow(/missing: APCA_ACCT4_SECRET_KEY, APCA_ACCT6_KEY_ID/);
  });

  it('a weekly run sends opg orders, waits for the open, records the fills; a re-run sends nothing; bad keys stop only their account', async () => {
    const BAD = 3;
    // The market opens while the run waits for its opening-auction orders (the first look at one).
    const opened = openAtFirstOrderFound(standIn);
    const app = await testApp(store, alpacaEnv(BAD), { alpacaWaits: { fillTimeoutMs: 5000, orderWaitMs: 200, pollMs: 5 } });
    try {
      expect(app.broker.name).toBe('alpaca');
      const week = weekOf(WEEK, app.config);
      const { result, error } = await runWeek(
        app,
        week,
        ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
        {},
        () => undefined,
      );
      expect(error).toBeNull();
      expect(opened()).toBe(true);
      const posts = standIn.calls('postOrder');
      expect(posts.length).toBeGreaterThan(0);
      for (const p of posts) expect((p.body as { time_in_force: string }).time_in_force).toBe('opg');
      // Bad keys: never a POST for that account; its orders come back rejected naming it, unrecorded.
      const rows = await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio));
      expect(rows.some((r) => r.accountId === BAD)).toBe(false);
      const others = rows.filter((r) => r.accountId !== BAD);
      expect(others.length).toBeGreaterThan(0);
      for (const r of others) expect(r.status).toBe('filled');
      const text = JSON.stringify(result);
      expect(text).toMatch(new RegExp(`keys of account ${BAD} `));
      expect(text).not.toContain('wrong-secret-for-this-key');
      // The ledger matches Alpaca: positions of every account, and cash replayed from the fills.
      for (let n = 1; n <= 6; n++) if (n !== BAD) expect(await ledger(app.portfolio, n)).toEqual(alpacaPositions(n));
      await expectBooksMatchFills(store.db, app.portfolio);
      const [acct1] = await store.db
        .select()
        .from(accounts)
        .where(and(eq(accounts.portfolio, app.portfolio), eq(accounts.id, 1)));
      expect(acct1?.startingCash).toBe(100_000);
      expect(acct1?.broker).toBe('alpaca');

      // Re-running execute places nothing: no new POST, no new order row.
      const before = postsOf();
      const again = await runWeek(app, week, ['execute'], { force: true }, () => undefined);
      expect(again.error).toBeNull();
      expect(postsOf()).toBe(before);
      expect((await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio))).length).toBe(rows.length);
    } finally {
      await app.close();
      await app.cleanup();
    }
  });

  it('a kill between submit and record: the next run finds the order by client_order_id and records it, no second POST', async () => {
    const broker = brokerOf();
    await broker.ensureAccounts([{ id: 1, owner: 'gpt' }], 100_000);
    const [request] = plan(1, 'weekly', [], { ticker: 'SPY', qty: 10 });
    // The process sent it and died before writing anything.
    await clientOf(1).submitOrder({
      symbol: 'SPY',
      side: 'buy',
      type: 'market',
      time_in_force: 'opg',
      client_order_id: request!.clientOrderId,
      qty: 10,
    });
    expect((await store.db.select().from(orders)).length).toBe(0);
    standIn.open();
    const recovered = await broker.submitOrder(request!);
    expect(recovered).toMatchObject({ status: 'filled', filledQty: 10, duplicate: true });
    expect(postsOf(request!.clientOrderId)).toBe(1);
    expect(await ledger('alpaca-test', 1)).toEqual({ SPY: 10 });
    // And again: the ledger answers.
    expect(await broker.submitOrder(request!)).toMatchObject({ status: 'filled', duplicate: true });
    expect(postsOf(request!.clientOrderId)).toBe(1);
    await expectBooksMatchFills(store.db, 'alpaca-test');
  });

  it('a 422 duplicate client_order_id (an id taken even after a cancel) is resolved by looking the order up', async () => {
    const broker = brokerOf();
    await broker.ensureAccounts([{ id: 2, owner: 'claude' }], 100_000);
    const [request] = plan(2, 'weekly', [], { ticker: 'TLT', qty: 5 });
    const client = clientOf(2);
    const sent = await client.submitOrder({
      symbol: 'TLT',
      side: 'buy',
      type: 'market',
      time_in_force: 'opg',
      client_order_id: request!.clientOrderId,
      qty: 5,
    });
    await client.cancelOrder(sent.id);
    // The ledger's lookup misses it once (as if the lookup raced the first send): the POST gets the 422.
    standIn.fail({
      status: 404,
      body: { code: 40410000, message: 'order not found' },
      when: (r) => r.operationId === 'getOrderByClientOrderId',
      times: 1,
    });
    const result = await broker.submitOrder(request!);
    expect(result).toMatchObject({ status: 'canceled', filledQty: 0, duplicate: true });
    expect(postsOf(request!.clientOrderId)).toBe(2);
    expect(standIn.calls('postOrder').at(-1)?.status).toBe(422);
  });

  it('shorts are whole shares; a checkpoint FLIP (cls) and REDUCE (day) are recorded as Alpaca fills them', async () => {
    const broker = brokerOf();
    await broker.ensureAccounts(
      [1, 2, 3].map((id) => ({ id, owner: `o${id}` })),
      100_000,
    );
    // A fractional short is refused before sending and recorded as rejected.
    const [fractional] = plan(1, 'weekly', [], { ticker: 'SPY', qty: -2.5 });
    const refused = await broker.submitOrder(fractional!);
    expect(refused.status).toBe('rejected');
    expect(refused.rejectReason).toMatch(/whole shares/);
    expect(postsOf(fractional!.clientOrderId)).toBe(0);
    // Whole-share short and a long at the weekly open.
    const [short] = plan(2, 'weekly', [], { ticker: 'GLD', qty: -20 });
    const [long] = plan(3, 'weekly', [], { ticker: 'QQQ', qty: 40 });
    expect((await broker.submitOrder(short!)).status).toBe('accepted');
    expect((await broker.submitOrder(long!)).status).toBe('accepted');
    expect((standIn.calls('postOrder').at(-1)?.body as { time_in_force: string }).time_in_force).toBe('opg');
    standIn.open();
    const settled = await broker.awaitOrders([short!.clientOrderId, long!.clientOrderId]);
    expect(settled.map((o) => o.status)).toEqual(['filled', 'filled']);
    expect(await ledger('alpaca-test', 2)).toEqual({ GLD: -20 });

    // REDUCE at 12:00: a day market order, filled at once in the open market.
    const reduce = plan(3, '2024-03-06T12:00', [{ ticker: 'QQQ', qty: 40 }], { ticker: 'QQQ', qty: 20 });
    expect(reduce.map((r) => r.action)).toEqual(['reduce-QQQ']);
    expect(await broker.submitOrder(reduce[0]!)).toMatchObject({ status: 'filled', filledQty: 20 });
    expect((standIn.calls('postOrder').at(-1)?.body as { time_in_force: string }).time_in_force).toBe('day');
    expect(await ledger('alpaca-test', 3)).toEqual({ QQQ: 20 });

    // FLIP at 15:50: close the short and open a long, both market-on-close, filled at the close.
    const flip = plan(2, '2024-03-06T15:50', [{ ticker: 'GLD', qty: -20 }], { ticker: 'GLD', qty: 15 });
    expect(flip.map((r) => r.action)).toEqual(['close-GLD', 'open-GLD']);
    for (const r of flip) expect((await broker.submitOrder(r)).status).toBe('accepted');
    for (const p of standIn.calls('postOrder').slice(-2)) expect((p.body as { time_in_force: string }).time_in_force).toBe('cls');
    standIn.close();
    const flipped = await broker.awaitOrders(flip.map((r) => r.clientOrderId));
    expect(flipped.map((o) => [o.status, o.filledQty])).toEqual([
      ['filled', 20],
      ['filled', 15],
    ]);
    for (const n of [2, 3]) expect(await ledger('alpaca-test', n)).toEqual(alpacaPositions(n));
    await expectBooksMatchFills(store.db, 'alpaca-test');
  });

  it('a closed market refuses a day order (recorded, never sent); a partial fill is recorded as such', async () => {
    const broker = brokerOf();
    await broker.ensureAccounts([{ id: 4, owner: 'gemini' }], 100_000);
    const [day] = plan(4, '2024-03-06T12:00', [], { ticker: 'IEF', qty: 10 });
    const refused = await broker.submitOrder(day!);
    expect(refused.status).toBe('rejected');
    expect(refused.rejectReason).toMatch(/market closed/);
    expect(postsOf()).toBe(0);
    const [row] = await store.db.select().from(orders).where(eq(orders.clientOrderId, day!.clientOrderId));
    expect(row?.status).toBe('rejected');

    const [weekly] = plan(4, 'weekly', [], { ticker: 'IEF', qty: 10 }, 1);
    standIn.partialFill(keyId(4), weekly!.clientOrderId, 4);
    expect((await broker.submitOrder(weekly!)).status).toBe('accepted');
    standIn.open(); // 4 of 10 fill; the opg rest expires.
    const [partial] = await broker.awaitOrders([weekly!.clientOrderId]);
    expect(partial).toMatchObject({ status: 'filled', qty: 10, filledQty: 4 });
    expect(partial?.rejectReason).toMatch(/partially filled: 4 of 10/);
    expect((await store.db.select().from(fills).where(eq(fills.clientOrderId, weekly!.clientOrderId)))[0]?.qty).toBe(4);
    expect(await ledger('alpaca-test', 4)).toEqual({ IEF: 4 });
    await expectBooksMatchFills(store.db, 'alpaca-test');
  });
});
