import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlpacaSubledgerBroker, SubledgerError } from '../src/broker/alpaca-subledger-broker.js';
import { AlpacaClient } from '../src/broker/alpaca/client.js';
import { planOrders } from '../src/broker/order-plan.js';
import { latestReconciliation } from '../src/broker/subledger/events.js';
import { groupByTicker, netOrderId } from '../src/broker/subledger/netting.js';
import { runCheckpoint } from '../src/checkpoint/engine.js';
import { slotOf } from '../src/checkpoint/schedule.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { portfolioTag } from '../src/portfolio/portfolio.js';
import type { OrderRequest, OrderResult } from '../src/ports/broker.js';
import type { Store } from '../src/storage/db.js';
import { accounts, fills, orders, positions } from '../src/storage/schema.js';
import { openAtFirstOrderFound, setPricesFromBundle, startAlpacaStandIn, type AlpacaStandIn } from './helpers/alpaca-stand-in.js';
import { pmExitingAtCheckpoints, withPms } from './helpers/agents.js';
import { resetStore, testApp } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

/**
 * Alpaca's sub-ledger mode against the spec-validating stand-in: one key pair, one paper account of
 * $600,000, six sub-ledgers of a sixth each. Every test ends with no spec violation seen by the stand-in.
 */

const WEEK = '2024-03-06';
const PORTFOLIO = 'subledger-test';
const KEY = 'PKSTANDINSUBLEDGER0001';
const SECRET = 'sEcReT-subledger-0123456789abcdefghijklmnopqrstuvwxyz';
const OWNERS = ['gpt', 'gemini', 'sonnet', 'grok', 'council', 'deepseek'];

let standIn: AlpacaStandIn;
let store: Store;

function clientOf(secret = SECRET, retry?: { max_attempts: number }): AlpacaClient {
  return new AlpacaClient({
    keyId: KEY,
    secretKey: secret,
    tradingBaseUrl: standIn.tradingUrl,
    dataBaseUrl: standIn.dataUrl,
    accountLabel: '1-6 (sub-ledgers of one paper account)',
    ...(retry ? { retry } : {}),
  });
}

function brokerOf(client = clientOf()): AlpacaSubledgerBroker {
  return new AlpacaSubledgerBroker({ db: store.db, portfolio: PORTFOLIO, client, orderWaitMs: 200, fillTimeoutMs: 200, pollMs: 5 });
}

/**
 * The app of the sub-ledger portfolio on the stand-in's one key pair, and whether the market has
 * opened yet (it opens at the first order looked up).
 */
async function subledgerApp() {
  const opened = openAtFirstOrderFound(standIn);
  const env = {
    APCA_API_KEY_ID: KEY,
    APCA_API_SECRET_KEY: SECRET,
    APCA_API_BASE_URL: standIn.tradingUrl,
    APCA_DATA_BASE_URL: standIn.dataUrl,
  };
  const app = await testApp(store, env, { portfolio: PORTFOLIO, alpacaWaits: { fillTimeoutMs: 5000, orderWaitMs: 200, pollMs: 5 } });
  return { app, opened };
}

async function ready(broker = brokerOf()): Promise<AlpacaSubledgerBroker> {
  await broker.ensureAccounts(OWNERS.map((owner, i) => ({ id: i + 1, owner })));
  return broker;
}

/** The order that takes `accountId` from `held` to `target` at `checkpoint` (order-plan.ts, as execute plans it). */
function plan(
  accountId: number,
  target: { ticker: string; qty: number } | null,
  held: { ticker: string; qty: number }[] = [],
  checkpoint = 'weekly',
  sequence = 0,
): OrderRequest[] {
  return planOrders({ portfolioTag: portfolioTag(PORTFOLIO), weekId: WEEK, accountId, checkpoint, sequence, positions: held, target });
}

async function books(accountId: number): Promise<Record<string, number>> {
  const held = await store.db
    .select({ ticker: positions.ticker, qty: positions.qty })
    .from(positions)
    .where(and(eq(positions.portfolio, PORTFOLIO), eq(positions.accountId, accountId)));
  return Object.fromEntries(held.map((p) => [p.ticker, p.qty]));
}

function alpacaPositions(): Record<string, number> {
  return Object.fromEntries([...standIn.account(KEY).positions].filter(([, p]) => p.qty !== 0).map(([s, p]) => [s, p.qty]));
}

function posts(): { symbol: string; side: string; qty: string; time_in_force: string; client_order_id: string }[] {
  return standIn
    .calls('postOrder')
    .filter((r) => r.status === 200)
    .map((r) => r.body as { symbol: string; side: string; qty: string; time_in_force: string; client_order_id: string });
}

/** Money is conserved in every sub-ledger: its starting cash replayed through its fills is its cash and positions. */
async function expectMoneyConserved(): Promise<void> {
  await expectBooksMatchFills(store.db, PORTFOLIO);
  const rows = await store.db.select().from(fills).where(eq(fills.portfolio, PORTFOLIO));
  for (const f of rows) expect(Number.isInteger(f.qty)).toBe(true);
}

const byId = (results: OrderResult[]) => new Map(results.map((r) => [r.clientOrderId, r]));

describe.each(storeFactories)('Alpaca sub-ledger mode ($name)', (factory) => {
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await resetStore(store);
    standIn = await startAlpacaStandIn();
    standIn.addAccount({ keyId: KEY, secretKey: SECRET, cash: 600_000 });
    await setPricesFromBundle(standIn);
  });
  afterEach(async () => {
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  it('nets one execution per ticker, allocates the fills back, keeps opposite positions apart, and reconciles to zero', async () => {
    const broker = await ready();
    const rows = await store.db.select().from(accounts).where(eq(accounts.portfolio, PORTFOLIO));
    expect(rows.map((r) => r.startingCash)).toEqual([100_000, 100_000, 100_000, 100_000, 100_000, 100_000]);
    expect(rows.every((r) => r.broker === 'alpaca-subledger')).toBe(true);

    const requests = [
      ...plan(1, { ticker: 'SPY', qty: 10 }),
      ...plan(2, { ticker: 'SPY', qty: -4 }), // SHORT SPY against account 1's LONG
      ...plan(3, { ticker: 'SPY', qty: 6 }),
      ...plan(4, { ticker: 'TLT', qty: 20 }),
      ...plan(5, { ticker: 'GLD', qty: -5 }),
      ...plan(6, { ticker: 'GLD', qty: 5 }), // GLD nets to zero: nothing goes to Alpaca
    ];
    const sent = await broker.submitOrders(requests);
    expect(sent.map((r) => r.status)).toEqual(Array(6).fill('accepted'));
    // Alpaca sees one order per ticker: the net of SPY (10 − 4 + 6) and TLT; none for GLD.
    expect(posts().map((p) => [p.symbol, p.side, p.qty, p.time_in_force])).toEqual([
      ['SPY', 'buy', '12', 'opg'],
      ['TLT', 'buy', '20', 'opg'],
    ]);

    standIn.open();
    const settled = byId(await broker.awaitOrders(requests.map((r) => r.clientOrderId)));
    for (const r of requests)
      expect(settled.get(r.clientOrderId)).toMatchObject({ status: 'filled', filledQty: r.qty, rejectReason: null });
    const spyPrice = standIn.account(KEY).orders.find((o) => o.symbol === 'SPY')!.filledAvgPrice!;
    for (const r of requests.filter((x) => x.ticker === 'SPY'))
      expect(settled.get(r.clientOrderId)).toMatchObject({ filledAvgPrice: spyPrice, approximatePrice: false });
    // The internal cross fills at Alpaca's latest trade once the open has come, marked approximate.
    for (const r of requests.filter((x) => x.ticker === 'GLD')) expect(settled.get(r.clientOrderId)?.approximatePrice).toBe(true);

    expect(alpacaPositions()).toEqual({ SPY: 12, TLT: 20 });
    expect([await books(1), await books(2), await books(3), await books(4), await books(5), await books(6)]).toEqual([
      { SPY: 10 },
      { SPY: -4 },
      { SPY: 6 },
      { TLT: 20 },
      { GLD: -5 },
      { GLD: 5 },
    ]);
    await expectMoneyConserved();

    const rec = await broker.reconcile({ weekId: WEEK, checkpoint: 'weekly' });
    expect(rec.status).toBe('ok');
    expect(rec.positions.map((p) => [p.ticker, p.broker, p.books, p.difference])).toEqual([
      ['GLD', 0, 0, 0],
      ['SPY', 12, 12, 0],
      ['TLT', 20, 20, 0],
    ]);
    expect(rec.positions.find((p) => p.ticker === 'SPY')?.accounts).toEqual({ '1': 10, '2': -4, '3': 6 });
    expect(Math.abs(rec.cash.difference!)).toBeLessThanOrEqual(rec.cash.tolerance);
    expect(rec.notes.join('\n')).toMatch(/SPY: sub-ledgers hold it long and short/);
    expect((await latestReconciliation(store.db, PORTFOLIO))?.at).toBe(rec.at);

    // Re-running the execution places nothing: every order is a duplicate, no POST.
    const again = await broker.submitOrders(requests);
    expect(again.every((r) => r.duplicate && r.status === 'filled')).toBe(true);
    expect(posts()).toHaveLength(2);

    // Alpaca's account changed behind our back (a trade outside this system): the difference is reported.
    const account = standIn.account(KEY);
    account.positions.set('IWM', { qty: 3, avgEntry: 200 });
    account.cash -= 600;
    const differs = await broker.reconcile({ weekId: WEEK, checkpoint: 'weekly' });
    expect(differs.status).toBe('differs');
    expect(differs.positions.find((p) => p.ticker === 'IWM')).toMatchObject({ broker: 3, books: 0, difference: 3 });
    expect(differs.cash.difference).toBeCloseTo(rec.cash.difference! - 600, 2);
    expect(differs.notes.join('\n')).toMatch(/IWM: Alpaca holds 3, the sub-ledgers 0/);
    expect((await latestReconciliation(store.db, PORTFOLIO))?.status).toBe('differs');
  });

  it('a partial fill is shared pro rata in whole shares; the crossing side fills in full; the rest is stated', async () => {
    const broker = await ready();
    const requests = [
      ...plan(1, { ticker: 'QQQ', qty: 10 }),
      ...plan(2, { ticker: 'QQQ', qty: 5 }),
      ...plan(3, { ticker: 'QQQ', qty: -3 }),
    ];
    const [group] = groupByTicker(requests);
    const netId = netOrderId(portfolioTag(PORTFOLIO), group!);
    standIn.partialFill(KEY, netId, 7); // 7 of the net 12 fill at the open; the rest of the opg order expires
    await broker.submitOrders(requests);
    expect(posts().map((p) => [p.client_order_id, p.side, p.qty])).toEqual([[netId, 'buy', '12']]);
    standIn.open();
    const settled = byId(await broker.awaitOrders(requests.map((r) => r.clientOrderId)));
    // The buyers share 3 crossed + 7 filled = 10 of 15: 6.67 and 3.33 → 7 and 3 (largest remainder).
    expect(requests.map((r) => [settled.get(r.clientOrderId)?.status, settled.get(r.clientOrderId)?.filledQty])).toEqual([
      ['filled', 7],
      ['filled', 3],
      ['filled', 3],
    ]);
    expect(settled.get(requests[0]!.clientOrderId)?.rejectReason).toMatch(
      /partially filled: 7 of 10 shares \(pro rata share of net order .*: 7 of 12 filled at Alpaca at [\d.]+, the rest expired\)/,
    );
    expect(settled.get(requests[2]!.clientOrderId)?.rejectReason).toBeNull();
    expect(alpacaPositions()).toEqual({ QQQ: 7 });
    expect([await books(1), await books(2), await books(3)]).toEqual([{ QQQ: 7 }, { QQQ: 3 }, { QQQ: -3 }]);
    await expectMoneyConserved();
    const rec = await broker.reconcile({ weekId: WEEK, checkpoint: 'weekly' });
    expect(rec.status).toBe('ok');
    expect(rec.positions).toEqual([expect.objectContaining({ ticker: 'QQQ', broker: 7, books: 7, difference: 0 })]);
  });

  it('a net order through zero during the session goes as close then open, whole shares; fractional orders are refused', async () => {
    const broker = await ready();
    const weekly = [...plan(1, { ticker: 'SPY', qty: 10 }), ...plan(3, { ticker: 'SPY', qty: 2 })];
    await broker.submitOrders(weekly);
    standIn.open();
    await broker.awaitOrders(weekly.map((r) => r.clientOrderId));
    expect(alpacaPositions()).toEqual({ SPY: 12 });

    // 12:00: accounts 1 and 3 close, account 2 opens a short of 20: net sell 32 while Alpaca holds 12 long.
    const noon = '2024-03-06T12:00';
    const requests = [
      ...plan(1, null, [{ ticker: 'SPY', qty: 10 }], noon),
      ...plan(3, null, [{ ticker: 'SPY', qty: 2 }], noon),
      ...plan(2, { ticker: 'SPY', qty: -20 }, [], noon),
    ];
    const fractional = plan(4, { ticker: 'TLT', qty: 2.5 }, [], noon);
    const results = await broker.submitOrders([...requests, ...fractional]);
    expect(results.slice(0, 3).map((r) => [r.status, r.filledQty])).toEqual([
      ['filled', 10],
      ['filled', 2],
      ['filled', 20],
    ]);
    expect(results[3]).toMatchObject({ status: 'rejected' });
    expect(results[3]?.rejectReason).toMatch(/whole shares/);
    const legs = posts().slice(1);
    expect(legs.map((p) => [p.side, p.qty, p.time_in_force, p.client_order_id.slice(-2)])).toEqual([
      ['sell', '12', 'day', '-c'],
      ['sell', '20', 'day', '-o'],
    ]);
    expect(alpacaPositions()).toEqual({ SPY: -20 });
    expect([await books(1), await books(2), await books(3)]).toEqual([{}, { SPY: -20 }, {}]);
    await expectMoneyConserved();
    expect((await broker.reconcile({ weekId: WEEK, checkpoint: noon })).status).toBe('ok');
  });

  it('a kill between submit and record: the next run finds the net order by its client_order_id and records it, no second order', async () => {
    // The first process sends the net order, and the answer never comes back (it dies before recording).
    const dying = await ready(brokerOf(clientOf(SECRET, { max_attempts: 1 })));
    const requests = [...plan(1, { ticker: 'IEF', qty: 8 }), ...plan(2, { ticker: 'IEF', qty: 4 })];
    standIn.fail({ drop: true, afterHandling: true, when: (r) => r.operationId === 'postOrder' });
    const lost = await dying.submitOrders(requests);
    for (const r of lost) {
      expect(r.status).toBe('rejected');
      expect(r.rejectReason).toMatch(/sub-ledger mode .*nothing recorded/);
    }
    expect(await store.db.select().from(orders).where(eq(orders.portfolio, PORTFOLIO))).toHaveLength(0);
    expect(standIn.account(KEY).orders).toHaveLength(1);

    // The next run plans the same orders: it finds the net order at Alpaca and records its members.
    const restarted = brokerOf();
    const found = await restarted.submitOrders(requests);
    expect(found.map((r) => [r.status, r.duplicate])).toEqual([
      ['accepted', true],
      ['accepted', true],
    ]);
    expect(standIn.calls('postOrder')).toHaveLength(1);
    expect(standIn.account(KEY).orders).toHaveLength(1);
    standIn.open();
    const settled = await restarted.awaitOrders(requests.map((r) => r.clientOrderId));
    expect(settled.map((r) => [r.status, r.filledQty])).toEqual([
      ['filled', 8],
      ['filled', 4],
    ]);
    expect(alpacaPositions()).toEqual({ IEF: 12 });
    await expectMoneyConserved();
  });

  it('a kill between recording and sending: resent after the open, the opening-auction order goes as a day order and fills', async () => {
    // The first process records the net order, then its request never reaches Alpaca (it dies).
    const dying = await ready(brokerOf(clientOf(SECRET, { max_attempts: 1 })));
    const requests = [...plan(1, { ticker: 'IEF', qty: 8 }), ...plan(2, { ticker: 'IEF', qty: 4 })];
    standIn.fail({ drop: true, when: (r) => r.operationId === 'postOrder' });
    const lost = await dying.submitOrders(requests);
    expect(lost.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(standIn.account(KEY).orders).toHaveLength(0);

    // The market opens before the next run: Alpaca would refuse an opg order now.
    standIn.open();
    const restarted = brokerOf();
    const resent = await restarted.submitOrders(requests);
    expect(resent.map((r) => [r.status, r.filledQty, r.duplicate])).toEqual([
      ['filled', 8, true],
      ['filled', 4, true],
    ]);
    expect(posts().map((p) => [p.symbol, p.side, p.qty, p.time_in_force])).toEqual([['IEF', 'buy', '12', 'day']]);
    expect(alpacaPositions()).toEqual({ IEF: 12 });
    expect([await books(1), await books(2)]).toEqual([{ IEF: 8 }, { IEF: 4 }]);
    await expectMoneyConserved();
  });

  it('the one key failing fails all six accounts, naming the mode and never the key; nothing is recorded or sent', async () => {
    await ready();
    const broken = brokerOf(clientOf('wrong-secret-for-the-one-key'));
    const requests = [...plan(1, { ticker: 'SPY', qty: 1 }), ...plan(2, { ticker: 'TLT', qty: 1 }), ...plan(6, { ticker: 'GLD', qty: 1 })];
    const results = await broken.submitOrders(requests);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(r.rejectReason).toMatch(
        /sub-ledger mode \(one Alpaca paper account for all six accounts\): Alpaca rejected the keys of account 1-6/,
      );
      expect(r.rejectReason).not.toContain('wrong-secret');
      expect(r.rejectReason).not.toContain(KEY);
    }
    expect(standIn.calls('postOrder')).toHaveLength(0);
    expect(await store.db.select().from(orders).where(eq(orders.portfolio, PORTFOLIO))).toHaveLength(0);
    const rec = await broken.reconcile({ weekId: WEEK, checkpoint: 'weekly' });
    expect(rec.status).toBe('unavailable');
    expect(rec.error).toMatch(/rejected the keys/);

    // Without Alpaca's equity no sub-ledger is created (its starting cash would be made up).
    await resetStore(store);
    await expect(broken.ensureAccounts([{ id: 1, owner: 'gpt' }])).rejects.toThrow(SubledgerError);
    expect(await store.db.select().from(accounts)).toHaveLength(0);
  });

  it('a weekly run with the one key pair: one order per ticker at the open, the week reconciled; a re-run places nothing', async () => {
    const { app, opened } = await subledgerApp();
    try {
      expect(app.broker.name).toBe('alpaca-subledger');
      const week = weekOf(WEEK, app.config);
      const stages = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
      const { result, error } = await runWeek(app, week, [...stages], {}, () => undefined);
      expect(error).toBeNull();
      expect(opened()).toBe(true);
      const sent = posts();
      expect(sent.length).toBeGreaterThan(0);
      // One order per ticker (a net order through zero would be two legs: none here, Alpaca starts flat).
      expect(new Set(sent.map((p) => p.symbol)).size).toBe(sent.length);
      for (const p of sent) expect(p.time_in_force).toBe('opg');
      const rows = await store.db.select().from(orders).where(eq(orders.portfolio, PORTFOLIO));
      expect(rows.length).toBeGreaterThanOrEqual(sent.length);
      for (const r of rows) expect(r.status).toBe('filled');
      // The books' sum is Alpaca's position in every ticker; the week's result carries the reconciliation.
      const sum: Record<string, number> = {};
      for (const p of await store.db.select().from(positions).where(eq(positions.portfolio, PORTFOLIO)))
        if (p.qty !== 0) sum[p.ticker] = (sum[p.ticker] ?? 0) + p.qty;
      for (const [t, q] of Object.entries(sum)) if (q === 0) delete sum[t];
      expect(sum).toEqual(alpacaPositions());
      expect(result?.reconciliation?.status).toBe('ok');
      await expectMoneyConserved();

      const before = standIn.calls('postOrder').length;
      const again = await runWeek(app, week, ['execute'], { force: true }, () => undefined);
      expect(again.error).toBeNull();
      expect(standIn.calls('postOrder').length).toBe(before);
      expect(await store.db.select().from(orders).where(eq(orders.portfolio, PORTFOLIO))).toHaveLength(rows.length);
    } finally {
      await app.close();
      await app.cleanup();
    }
  });

  it('a checkpoint that trades is reconciled; its file, written again from the rows after a kill, keeps that reconciliation', async () => {
    const { app: base } = await subledgerApp();
    const app = withPms(base, { gpt: pmExitingAtCheckpoints });
    try {
      const week = weekOf(WEEK, app.config);
      const stages = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
      expect((await runWeek(app, week, [...stages], {}, () => undefined)).error).toBeNull();

      const slot = slotOf(week, WEEK, '10:00');
      const first = await runCheckpoint(app, week, slot);
      expect(first.updates.find((u) => u.owner === 'gpt')).toMatchObject({ status: 'ok', action: 'EXIT' });
      expect(first.reconciliation?.status).toBe('ok');
      expect(first.reconciliation?.checkpoint).toBe(`${WEEK}T10:00`);
      await app.artifacts.flush();
      const file = app.artifacts.normalizedPath(WEEK, 'checkpoint-2024-03-06-1000');
      const written = JSON.parse(readFileSync(file, 'utf8')) as typeof first;
      expect(written.reconciliation).toEqual(JSON.parse(JSON.stringify(first.reconciliation)));

      // A process killed after the checkpoint committed, before its file was written: the next run
      // writes the file from the stored rows, with the reconciliation that run stored.
      rmSync(file);
      const posted = standIn.calls('postOrder').length;
      const again = await runCheckpoint(app, week, slot);
      expect(again.already_run).toBe(true);
      expect(standIn.calls('postOrder').length).toBe(posted);
      await app.artifacts.flush();
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(written);
    } finally {
      await base.close();
      await base.cleanup();
    }
  });
});

describe('llm-trading accounts in sub-ledger mode (CLI, embedded database)', () => {
  beforeEach(async () => {
    standIn = await startAlpacaStandIn();
    standIn.addAccount({ keyId: KEY, secretKey: SECRET, cash: 600_000 });
    await setPricesFromBundle(standIn);
  });
  afterEach(async () => {
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  it('shows each sub-ledger, Alpaca’s account and the reconciliation (--json in snake_case)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lt-subledger-cli-'));
    try {
      openAtFirstOrderFound(standIn);
      const env = {
        APCA_API_KEY_ID: KEY,
        APCA_API_SECRET_KEY: SECRET,
        APCA_API_BASE_URL: standIn.tradingUrl,
        APCA_DATA_BASE_URL: standIn.dataUrl,
        LLM_TRADING_HOME: home,
        ALPACA_FILL_TIMEOUT_SECONDS: '10',
        ALPACA_POLL_SECONDS: '0.05',
      };
      const run = await cli(['run_weekly', '--as-of', WEEK], env);
      if (run.code !== 0) throw new Error(`run_weekly failed: ${run.stderr}`);
      expect(run.stdout).toMatch(/reconciliation with Alpaca: ok/);
      expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);
      const shown = await cli(['accounts', '--json'], env);
      expect(shown.code).toBe(0);
      const report = JSON.parse(shown.stdout) as {
        mode: string;
        accounts: {
          account_id: number;
          starting_cash: number;
          equity: number;
          cash: number;
          week_id: string | null;
          pnl_week: number | null;
          pnl_note: string | null;
          positions: unknown[];
        }[];
        reconciliation: { status: string; positions: { ticker: string; difference: number }[] };
        last_execution_reconciliation: { status: string; checkpoint: string } | null;
      };
      expect(report.mode).toBe('subledger');
      expect(report.accounts.map((a) => a.account_id)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const a of report.accounts) expect(a.starting_cash).toBe(100_000);
      // The week's P/L from the books: now (today's date) is past the bundled data, so a held ticker is
      // marked with the data's last print and the account says so; a flat account needs no mark.
      for (const a of report.accounts) {
        expect(a.week_id).toBe(WEEK);
        if (a.positions.length > 0) expect(a.pnl_note).toMatch(/marked with the last print there is, .* data ends before/);
        else expect(a.pnl_note).toBeNull();
        expect(a.pnl_week).toBeCloseTo(a.equity - 100_000, 2);
      }
      expect(report.reconciliation.status).toBe('ok');
      expect(report.reconciliation.positions.every((p) => p.difference === 0)).toBe(true);
      expect(report.last_execution_reconciliation).toMatchObject({ status: 'ok', checkpoint: 'weekly' });
      const text = await cli(['accounts'], env);
      expect(text.stdout).toMatch(/six sub-ledgers of one Alpaca paper account/);
      expect(text.stdout).toMatch(/reconciliation with Alpaca: ok/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
