import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlpacaBroker } from '../src/broker/alpaca-broker.js';
import { AlpacaSubledgerBroker, SUBLEDGER_ACCOUNT_LABEL } from '../src/broker/alpaca-subledger-broker.js';
import { AlpacaClient } from '../src/broker/alpaca/client.js';
import { AlpacaAuthError, AlpacaConfigError } from '../src/broker/alpaca/errors.js';
import { ALPACA_MCP_TOOLS, AlpacaMcpApi, alpacaMcpTools } from '../src/broker/alpaca-mcp/api.js';
import { parseCommandLine } from '../src/broker/alpaca-mcp/command.js';
import { McpConnection } from '../src/broker/alpaca-mcp/connection.js';
import { planOrders } from '../src/broker/order-plan.js';
import { alpacaMcpPaperTrade, checkBrokerEnv, parseEnv } from '../src/config/env.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { portfolioTag } from '../src/portfolio/portfolio.js';
import type { OrderRequest } from '../src/ports/broker.js';
import type { Store } from '../src/storage/db.js';
import { orders, positions } from '../src/storage/schema.js';
import { CRASH_MARKER, mcpStandInCommand } from './helpers/alpaca-mcp-stand-in.js';
import {
  dailyBar,
  openAtFirstOrderFound,
  setPricesFromBundle,
  startAlpacaStandIn,
  type AlpacaStandIn,
  type RecordedRequest,
} from './helpers/alpaca-stand-in.js';
import { resetStore, testApp } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

/**
 * BROKER=alpaca-mcp against the MCP stand-in (tests/helpers/alpaca-mcp-stand-in.ts: the eight tools of
 * alpaca-mcp-server v2, their parameters and answers), which forwards to the spec-validating HTTP
 * stand-in as the real server forwards to Alpaca. Every test ends with no spec violation.
 *
 * On PGlite only: the ledger writing is AlpacaBroker's, covered on both engines by alpaca-broker.test.ts;
 * what is new here is the transport, and each server is a child process (~0.5 s to start).
 */

const WEEK = '2024-03-06';

let standIn: AlpacaStandIn;
let store: Store;
/** Each test trades its own Alpaca accounts (its own keys) in the one HTTP stand-in of this file. */
let run: string;
const keyId = (n: number): string => `PKMCP${run}ACCT${n}KEY`;
const secret = (n: number): string => `sEcReT-mcp-${run}-acct${n}-0123456789abcdefghij`;
/** Sub-ledger mode: the one key pair of the one paper account ($600,000: six sixths of $100,000). */
const oneKeyId = (): string => `PKMCP${run}ONEKEY`;
const oneSecret = (): string => `sEcReT-mcp-${run}-one-0123456789abcdefghij`;
const allKeys = (): string[] => [...[1, 2, 3, 4, 5, 6].flatMap((n) => [keyId(n), secret(n)]), oneKeyId(), oneSecret()];
const connections: McpConnection[] = [];

function connect(n: number, command: string, label = String(n)): AlpacaMcpApi {
  const connection = new McpConnection({
    accountLabel: label,
    argv: parseCommandLine(command),
    env: { ALPACA_API_KEY: keyId(n), ALPACA_SECRET_KEY: secret(n), ALPACA_PAPER_TRADE: 'true', DATA_API_URL: standIn.dataUrl },
    secrets: [keyId(n), secret(n)],
    requiredTools: ALPACA_MCP_TOOLS,
    callTimeoutMs: 20_000,
  });
  connections.push(connection);
  return new AlpacaMcpApi(connection, { secrets: [keyId(n), secret(n)], retryBaseMs: 10 });
}

/** The one paper account's server, as alpacaMcpAccounts starts it in sub-ledger mode (the latest trade required). */
function connectOne(command: string): AlpacaMcpApi {
  const connection = new McpConnection({
    accountLabel: SUBLEDGER_ACCOUNT_LABEL,
    argv: parseCommandLine(command),
    env: { ALPACA_API_KEY: oneKeyId(), ALPACA_SECRET_KEY: oneSecret(), ALPACA_PAPER_TRADE: 'true', DATA_API_URL: standIn.dataUrl },
    secrets: [oneKeyId(), oneSecret()],
    requiredTools: alpacaMcpTools('subledger'),
    callTimeoutMs: 20_000,
  });
  connections.push(connection);
  return new AlpacaMcpApi(connection, { secrets: [oneKeyId(), oneSecret()], retryBaseMs: 10 });
}

function httpClient(n: number): AlpacaClient {
  return new AlpacaClient({
    keyId: keyId(n),
    secretKey: secret(n),
    tradingBaseUrl: standIn.tradingUrl,
    dataBaseUrl: standIn.dataUrl,
    accountLabel: String(n),
  });
}

function plan(accountId: number, checkpoint: string, target: { ticker: string; qty: number }): OrderRequest {
  const [request] = planOrders({
    portfolioTag: portfolioTag('mcp-test'),
    weekId: WEEK,
    accountId,
    checkpoint,
    sequence: 0,
    positions: [],
    target,
  });
  return request!;
}

/** This test's orders at Alpaca (its accounts' keys carry its run id). */
function postsOfRun(): RecordedRequest[] {
  return standIn.calls('postOrder').filter((r) => r.headers['apca-api-key-id']?.includes(run));
}

function postsOf(clientOrderId?: string): number {
  return postsOfRun().filter(
    (r) => clientOrderId === undefined || (r.body as { client_order_id?: string }).client_order_id === clientOrderId,
  ).length;
}

function alpacaPositions(n: number): Record<string, number> {
  return Object.fromEntries([...standIn.account(keyId(n)).positions].filter(([, p]) => p.qty !== 0).map(([s, p]) => [s, p.qty]));
}

async function ledgerPositions(portfolio: string, accountId: number): Promise<Record<string, number>> {
  const held = await store.db
    .select({ ticker: positions.ticker, qty: positions.qty })
    .from(positions)
    .where(and(eq(positions.portfolio, portfolio), eq(positions.accountId, accountId)));
  return Object.fromEntries(held.map((p) => [p.ticker, p.qty]));
}

/** Live processes whose command line holds `tag` (the stand-in's --tag). */
function processesTagged(tag: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(tag)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The error a call fails with (a test failure when it succeeds). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

function expectNoKeys(text: string): void {
  for (const k of allKeys()) expect(text).not.toContain(k);
}

const storeFactory = storeFactories[0]!;

describe('BROKER=alpaca-mcp configuration', () => {
  const pairs = (): NodeJS.ProcessEnv =>
    Object.fromEntries(
      [1, 2, 3, 4, 5, 6].flatMap((n) => [
        [`APCA_ACCT${n}_KEY_ID`, `PKCONF${n}`],
        [`APCA_ACCT${n}_SECRET_KEY`, `secret-conf-${n}-0000`],
      ]),
    );

  it('is chosen only when asked for; its command is split without a shell, and defaults to uvx alpaca-mcp-server', () => {
    expect(parseEnv(pairs()).broker).toBe('alpaca');
    const env = parseEnv({ ...pairs(), BROKER: 'alpaca-mcp' });
    expect(env.broker).toBe('alpaca-mcp');
    expect(env.alpaca.mcpCommand).toEqual(['uvx', 'alpaca-mcp-server']);
    expect(parseEnv({ ALPACA_MCP_COMMAND: `uvx --from 'alpaca-mcp-server==2.1.1' alpaca-mcp-server` }).alpaca.mcpCommand).toEqual([
      'uvx',
      '--from',
      'alpaca-mcp-server==2.1.1',
      'alpaca-mcp-server',
    ]);
    expect(() => parseEnv({ ALPACA_MCP_COMMAND: 'uvx "alpaca' })).toThrow(/ALPACA_MCP_COMMAND: the command has an unclosed double quote/);
  });

  it('takes the single key pair as the sub-ledger mode; refuses a mix of the two ways, a partial set of pairs, and a trading URL the server cannot use', async () => {
    const single = parseEnv({ BROKER: 'alpaca-mcp', APCA_API_KEY_ID: 'PKSINGLEKEY', APCA_API_SECRET_KEY: 'single-secret-000000' });
    expect(single.alpaca.mode).toBe('subledger');
    expect(() => checkBrokerEnv(single)).not.toThrow();
    const home = mkdtempSync(join(tmpdir(), 'lt-mcp-conf-'));
    try {
      const { APCA_ACCT2_SECRET_KEY: _dropped, ...someAccountKeys } = pairs();
      void _dropped;
      const mixed = await cli(['accounts'], {
        ...someAccountKeys,
        LLM_TRADING_HOME: home,
        BROKER: 'alpaca-mcp',
        APCA_API_KEY_ID: 'PKSINGLEKEY',
        APCA_API_SECRET_KEY: 'single-secret-000000',
      });
      expect(mixed.code).not.toBe(0);
      expect(mixed.stderr).toMatch(
        /both kinds of Alpaca keys are set, APCA_API_KEY_ID and some APCA_ACCT\{n\} keys \(missing APCA_ACCT2_SECRET_KEY\)/,
      );
      for (const secret of ['single-secret-000000', 'secret-conf-1-0000']) expect(mixed.stderr).not.toContain(secret);
      const partial = { ...pairs(), BROKER: 'alpaca-mcp', APCA_ACCT6_SECRET_KEY: '' };
      expect(() => checkBrokerEnv(parseEnv(partial))).toThrow(/missing: APCA_ACCT6_SECRET_KEY$/);
      expect(() => checkBrokerEnv(parseEnv({ ...pairs(), BROKER: 'alpaca-mcp', APCA_API_BASE_URL: 'http://127.0.0.1:9/trading' }))).toThrow(
        /cannot use APCA_API_BASE_URL=http:\/\/127.0.0.1:9\/trading: alpaca-mcp-server only trades at https:\/\/paper-api.alpaca.markets or https:\/\/api.alpaca.markets/,
      );
      expect(alpacaMcpPaperTrade({ tradingBaseUrl: undefined })).toBe('true');
      expect(alpacaMcpPaperTrade({ tradingBaseUrl: 'https://paper-api.alpaca.markets/' })).toBe('true');
      expect(alpacaMcpPaperTrade({ tradingBaseUrl: 'https://api.alpaca.markets' })).toBe('false');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('Alpaca through MCP (BROKER=alpaca-mcp)', () => {
  beforeAll(async () => {
    store = await storeFactory.open();
    standIn = await startAlpacaStandIn();
    await setPricesFromBundle(standIn);
  });
  afterAll(async () => {
    await standIn.stop();
    await store.close();
  });
  beforeEach(async () => {
    run = randomBytes(4).toString('hex').toUpperCase();
    await resetStore(store);
    // A new week at the stand-in: Wednesday 08:00 New York, before the open.
    standIn.setClock({
      now: '2024-03-06T13:00:00Z',
      isOpen: false,
      nextOpen: '2024-03-06T14:30:00Z',
      nextClose: '2024-03-06T21:00:00Z',
    });
    standIn.transformResponse = null;
    for (let n = 1; n <= 6; n++) standIn.addAccount({ keyId: keyId(n), secretKey: secret(n), cash: 100_000 });
  });
  afterEach(async () => {
    await Promise.all(connections.splice(0).map((c) => c.close()));
    expect(standIn.violations).toEqual([]);
  });

  it('a weekly run trades the six accounts through six servers, records the fills, re-runs send nothing; close stops the servers', async () => {
    const tag = `mcp-app-${run}`;
    let opened = false;
    standIn.transformResponse = (operationId, body) => {
      // The market opens while the run waits for its opening-auction orders (the first look at one).
      if (operationId === 'getOrderByClientOrderId' && !opened) {
        opened = true;
        setImmediate(() => standIn.open());
      }
      return body;
    };
    const env: NodeJS.ProcessEnv = {
      BROKER: 'alpaca-mcp',
      ALPACA_MCP_COMMAND: mcpStandInCommand({ tradingUrl: standIn.tradingUrl, tag }),
      APCA_DATA_BASE_URL: standIn.dataUrl,
    };
    for (let n = 1; n <= 6; n++) {
      env[`APCA_ACCT${n}_KEY_ID`] = keyId(n);
      env[`APCA_ACCT${n}_SECRET_KEY`] = secret(n);
    }
    const app = await testApp(store, env, { alpacaWaits: { fillTimeoutMs: 10_000, orderWaitMs: 200, pollMs: 20 } });
    try {
      // The same Alpaca broker (the portfolio's accounts are the same paper accounts either way).
      expect(app.broker.name).toBe('alpaca');
      expect(processesTagged(tag)).toEqual([]); // nothing started before it is needed
      const week = weekOf(WEEK, app.config);
      const { result, error } = await runWeek(
        app,
        week,
        ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
        {},
        () => undefined,
      );
      expect(error).toBeNull();
      expect(opened).toBe(true);
      expectNoKeys(JSON.stringify(result));
      const posts = postsOfRun();
      expect(posts.length).toBeGreaterThan(0);
      for (const p of posts) expect((p.body as { time_in_force: string }).time_in_force).toBe('opg');
      const rows = await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio));
      expect(rows.length).toBe(posts.length);
      for (const r of rows) expect(r.status).toBe('filled');
      for (let n = 1; n <= 6; n++) expect(await ledgerPositions(app.portfolio, n)).toEqual(alpacaPositions(n));
      await expectBooksMatchFills(store.db, app.portfolio);
      expect(processesTagged(tag).length).toBe(6);

      const before = postsOf();
      const again = await runWeek(app, week, ['execute'], { force: true }, () => undefined);
      expect(again.error).toBeNull();
      expect(postsOf()).toBe(before);
      expect((await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio))).length).toBe(rows.length);
    } finally {
      await app.close();
      await app.cleanup();
    }
    expect(processesTagged(tag)).toEqual([]);
  });

  it('a server that dies during place_stock_order: that order fails unrecorded, the other account trades; the next call finds the placed order (one POST)', async () => {
    const command = mcpStandInCommand({ tradingUrl: standIn.tradingUrl });
    const broker = new AlpacaBroker({
      db: store.db,
      portfolio: 'mcp-test',
      clients: new Map([
        [1, connect(1, command, '1 (gpt)')],
        [2, connect(2, command, '2 (gemini)')],
      ]),
      orderWaitMs: 200,
      fillTimeoutMs: 200,
      pollMs: 10,
    });
    await broker.ensureAccounts(
      [
        { id: 1, owner: 'gpt' },
        { id: 2, owner: 'gemini' },
      ],
      1,
    );
    // Alpaca places account 1's order, then its server crashes before answering.
    standIn.fail({
      status: 500,
      body: { code: 50010000, message: CRASH_MARKER },
      afterHandling: true,
      when: (r) => r.operationId === 'postOrder' && r.headers['apca-api-key-id'] === keyId(1),
    });
    const first = plan(1, 'weekly', { ticker: 'SPY', qty: 10 });
    const failed = await broker.submitOrder(first);
    expect(failed.status).toBe('rejected');
    expect(failed.rejectReason).toMatch(/place_stock_order for account 1 \(gpt\) failed: the server exited or closed the connection/);
    // Its stderr is quoted to explain, with the keys it printed redacted.
    expect(failed.rejectReason).toMatch(/crashing as asked/);
    expect(failed.rejectReason).toContain('[REDACTED]');
    expectNoKeys(JSON.stringify(failed));
    expect(await store.db.select().from(orders).where(eq(orders.clientOrderId, first.clientOrderId))).toEqual([]);

    const other = plan(2, 'weekly', { ticker: 'TLT', qty: 5 });
    expect((await broker.submitOrder(other)).status).toBe('accepted');

    standIn.open();
    // The next submit starts a new server, finds the order Alpaca placed, records its fill, sends nothing.
    const recovered = await broker.submitOrder(first);
    expect(recovered).toMatchObject({ status: 'filled', filledQty: 10, duplicate: true });
    expect(postsOf(first.clientOrderId)).toBe(1);
    expect(await broker.awaitOrders([other.clientOrderId])).toMatchObject([{ status: 'filled', filledQty: 5 }]);
    expect(await ledgerPositions('mcp-test', 1)).toEqual({ SPY: 10 });
    expect(await ledgerPositions('mcp-test', 2)).toEqual({ TLT: 5 });
    expect(await broker.account(1)).toMatchObject({ approximateMarks: false, positions: [{ ticker: 'SPY', qty: 10 }] });
  });

  it('a server without a tool, a command that does not exist, keys Alpaca refuses: clear errors, never a key', async () => {
    const noLookup = connect(
      3,
      mcpStandInCommand({ tradingUrl: standIn.tradingUrl, omitTools: ['get_order_by_client_id', 'get_stock_bars'] }),
      '3 (sonnet)',
    );
    const missing = await failure(noLookup.getClock());
    expect(missing).toBeInstanceOf(AlpacaConfigError);
    expect(missing.message).toMatch(
      /account 3 \(sonnet\) .* lacks the tools get_order_by_client_id, get_stock_bars: alpaca-mcp-server v2 is needed/,
    );
    expectNoKeys(missing.message);
    // Through the broker: the order comes back failed naming the tools, and is not recorded.
    const broker = new AlpacaBroker({
      db: store.db,
      portfolio: 'mcp-test',
      clients: new Map([[3, noLookup]]),
      orderWaitMs: 100,
      fillTimeoutMs: 100,
      pollMs: 10,
    });
    const order = plan(3, 'weekly', { ticker: 'GLD', qty: 3 });
    const refused = await broker.submitOrder(order);
    expect(refused).toMatchObject({ status: 'rejected' });
    expect(refused.rejectReason).toMatch(/lacks the tools get_order_by_client_id/);
    expect(postsOf()).toBe(0);
    expect(await store.db.select().from(orders)).toEqual([]);

    const nowhere = connect(4, `/nonexistent/bin/alpaca-mcp-server --flag ${keyId(4)}`, '4 (grok)');
    const notFound = await failure(nowhere.getAccount());
    expect(notFound).toBeInstanceOf(AlpacaConfigError);
    expect(notFound.message).toMatch(
      /cannot start the Alpaca MCP server for account 4 \(grok\): command not found: "\/nonexistent\/bin\/alpaca-mcp-server"/,
    );
    expectNoKeys(notFound.message);

    const wrong = new McpConnection({
      accountLabel: '5 (council)',
      argv: parseCommandLine(mcpStandInCommand({ tradingUrl: standIn.tradingUrl })),
      env: { ALPACA_API_KEY: keyId(5), ALPACA_SECRET_KEY: 'not-the-secret-of-this-key-0000' },
      secrets: [keyId(5), 'not-the-secret-of-this-key-0000'],
      requiredTools: ALPACA_MCP_TOOLS,
    });
    connections.push(wrong);
    const refusedKeys = await failure(new AlpacaMcpApi(wrong, { secrets: [keyId(5), 'not-the-secret-of-this-key-0000'] }).getAccount());
    expect(refusedKeys).toBeInstanceOf(AlpacaAuthError);
    expect(refusedKeys.message).toMatch(/Alpaca rejected the keys of account 5 \(council\) \(401\): request is not authorized/);
    expect(refusedKeys.message).not.toContain('not-the-secret-of-this-key-0000');
  });

  it('clock, calendar, account, positions, close_position and bars read through MCP equal what the HTTP client reads', async () => {
    const mcp = connect(6, mcpStandInCommand({ tradingUrl: standIn.tradingUrl }));
    const http = httpClient(6);
    const strip = <T extends { raw?: unknown }>(v: T): Omit<T, 'raw'> => {
      const { raw: _raw, ...rest } = v;
      return rest;
    };
    expect(strip(await mcp.getClock())).toEqual(strip(await http.getClock()));
    expect(await mcp.getCalendar('2024-03-25', '2024-04-02')).toEqual(await http.getCalendar('2024-03-25', '2024-04-02'));
    standIn.open();
    const bought = await mcp.submitOrder({
      symbol: 'QQQ',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      client_order_id: `mcp-${run}-q`,
      qty: 8,
    });
    expect(bought).toMatchObject({ status: 'filled', filledQty: 8, timeInForce: 'day' });
    expect(strip(await mcp.getAccount())).toEqual(strip(await http.getAccount()));
    expect((await mcp.listPositions()).map(strip)).toEqual((await http.listPositions()).map(strip));
    expect((await mcp.getPosition('QQQ'))?.qty).toBe(8);
    expect(await mcp.getPosition('SPY')).toBeNull();
    expect(await mcp.getOrderByClientOrderId(`mcp-${run}-none`)).toBeNull();
    const closing = await mcp.closePosition('QQQ', { percentage: 50 });
    expect(closing).toMatchObject({ side: 'sell', symbol: 'QQQ' });
    expect((await mcp.getPosition('QQQ'))?.qty).toBe(4);

    standIn.setBars('SPY', [dailyBar('2024-03-04', 510), dailyBar('2024-03-05', 512), dailyBar('2024-03-06', 509)]);
    standIn.setBars('TLT', [dailyBar('2024-03-05', 93)]);
    const viaMcp = await mcp.getBars(['SPY', 'TLT', 'GLD'], '1Day', '2024-03-01', '2024-03-06');
    expect(viaMcp).toEqual(await http.getBars(['SPY', 'TLT', 'GLD'], '1Day', '2024-03-01', '2024-03-06'));
    expect(viaMcp.SPY?.map((b) => b.close)).toEqual([510, 512, 509]);
    expect(viaMcp.GLD).toEqual([]);
  });

  it('sub-ledger mode through one server (BROKER=alpaca-mcp, the single key pair): one order per ticker, books sum to Alpaca, reconciled; a re-run sends nothing; close stops the server', async () => {
    const tag = `mcp-one-${run}`;
    standIn.addAccount({ keyId: oneKeyId(), secretKey: oneSecret(), cash: 600_000 });
    const opened = openAtFirstOrderFound(standIn);
    const env: NodeJS.ProcessEnv = {
      BROKER: 'alpaca-mcp',
      APCA_API_KEY_ID: oneKeyId(),
      APCA_API_SECRET_KEY: oneSecret(),
      ALPACA_MCP_COMMAND: mcpStandInCommand({ tradingUrl: standIn.tradingUrl, tag }),
      APCA_DATA_BASE_URL: standIn.dataUrl,
    };
    const app = await testApp(store, env, { alpacaWaits: { fillTimeoutMs: 10_000, orderWaitMs: 200, pollMs: 20 } });
    const onePosts = (): { symbol: string; time_in_force: string }[] =>
      standIn
        .calls('postOrder')
        .filter((r) => r.headers['apca-api-key-id'] === oneKeyId())
        .map((r) => r.body as { symbol: string; time_in_force: string });
    try {
      expect(app.broker).toBeInstanceOf(AlpacaSubledgerBroker);
      expect(processesTagged(tag)).toEqual([]); // nothing started before it is needed
      const week = weekOf(WEEK, app.config);
      const stages = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
      const { result, error } = await runWeek(app, week, [...stages], {}, () => undefined);
      expect(error).toBeNull();
      expect(opened()).toBe(true);
      expectNoKeys(JSON.stringify(result));
      // Everything went through the one server, to the one paper account: one order per ticker (netted).
      expect(processesTagged(tag).length).toBe(1);
      for (let n = 1; n <= 6; n++) expect(standIn.account(keyId(n)).orders).toEqual([]);
      const sent = onePosts();
      expect(sent.length).toBeGreaterThan(0);
      expect(new Set(sent.map((p) => p.symbol)).size).toBe(sent.length);
      for (const p of sent) expect(p.time_in_force).toBe('opg');
      const rows = await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio));
      expect(rows.length).toBeGreaterThanOrEqual(sent.length);
      for (const r of rows) expect(r.status).toBe('filled');
      // The sub-ledgers' books sum to Alpaca's account, and the week's result says so.
      const sum: Record<string, number> = {};
      for (const p of await store.db.select().from(positions).where(eq(positions.portfolio, app.portfolio)))
        if (p.qty !== 0) sum[p.ticker] = (sum[p.ticker] ?? 0) + p.qty;
      for (const [t, q] of Object.entries(sum)) if (q === 0) delete sum[t];
      const atAlpaca = Object.fromEntries(
        [...standIn.account(oneKeyId()).positions].filter(([, p]) => p.qty !== 0).map(([t, p]) => [t, p.qty]),
      );
      expect(sum).toEqual(atAlpaca);
      expect(result?.reconciliation?.status).toBe('ok');
      await expectBooksMatchFills(store.db, app.portfolio);

      const before = onePosts().length;
      const again = await runWeek(app, week, ['execute'], { force: true }, () => undefined);
      expect(again.error).toBeNull();
      expect(onePosts().length).toBe(before);
      expect(await store.db.select().from(orders).where(eq(orders.portfolio, app.portfolio))).toHaveLength(rows.length);
    } finally {
      await app.close();
      await app.cleanup();
    }
    expect(processesTagged(tag)).toEqual([]);
  });

  it('sub-ledger mode through MCP: an internal cross is priced at the latest trade of get_stock_latest_trade', async () => {
    standIn.addAccount({ keyId: oneKeyId(), secretKey: oneSecret(), cash: 600_000 });
    standIn.setPrice('GLD', 191.25);
    const broker = new AlpacaSubledgerBroker({
      db: store.db,
      portfolio: 'mcp-one',
      client: connectOne(mcpStandInCommand({ tradingUrl: standIn.tradingUrl })),
      orderWaitMs: 200,
      fillTimeoutMs: 200,
      pollMs: 5,
    });
    await broker.ensureAccounts(['gpt', 'gemini', 'sonnet', 'grok', 'council', 'deepseek'].map((owner, i) => ({ id: i + 1, owner })));
    const [short] = planOrders({
      portfolioTag: portfolioTag('mcp-one'),
      weekId: WEEK,
      accountId: 5,
      checkpoint: 'weekly',
      sequence: 0,
      positions: [],
      target: { ticker: 'GLD', qty: -5 },
    });
    const [long] = planOrders({
      portfolioTag: portfolioTag('mcp-one'),
      weekId: WEEK,
      accountId: 6,
      checkpoint: 'weekly',
      sequence: 0,
      positions: [],
      target: { ticker: 'GLD', qty: 5 },
    });
    const requests = [short!, long!];
    expect((await broker.submitOrders(requests)).map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(standIn.calls('postOrder').filter((r) => r.headers['apca-api-key-id'] === oneKeyId())).toEqual([]);
    standIn.open();
    const settled = await broker.awaitOrders(requests.map((r) => r.clientOrderId));
    for (const r of settled) expect(r).toMatchObject({ status: 'filled', filledQty: 5, filledAvgPrice: 191.25, approximatePrice: true });
    const asked = standIn.calls('StockLatestTrades').filter((r) => r.headers['apca-api-key-id'] === oneKeyId());
    expect(asked.length).toBeGreaterThan(0);
    expect(asked[0]!.query).toEqual({ symbols: 'GLD', feed: 'iex' });
    expect(standIn.calls('StockLatestTradeSingle').filter((r) => r.headers['apca-api-key-id'] === oneKeyId())).toEqual([]);
    expect((await broker.reconcile({ weekId: WEEK, checkpoint: 'weekly' })).status).toBe('ok');
  });

  it('sub-ledger mode needs get_stock_latest_trade: a server without it is a clear error naming the tool (the per-account mode does not)', async () => {
    standIn.addAccount({ keyId: oneKeyId(), secretKey: oneSecret(), cash: 600_000 });
    const env: NodeJS.ProcessEnv = {
      BROKER: 'alpaca-mcp',
      APCA_API_KEY_ID: oneKeyId(),
      APCA_API_SECRET_KEY: oneSecret(),
      ALPACA_MCP_COMMAND: mcpStandInCommand({ tradingUrl: standIn.tradingUrl, omitTools: ['get_stock_latest_trade'] }),
      APCA_DATA_BASE_URL: standIn.dataUrl,
    };
    const app = await testApp(store, env, { alpacaWaits: { fillTimeoutMs: 200, orderWaitMs: 200, pollMs: 20 } });
    try {
      const refused = await failure(app.broker.ensureAccounts([{ id: 1, owner: 'gpt' }], 1));
      expect(refused.message).toMatch(
        /the Alpaca MCP server for account 1-6 \(sub-ledgers of one paper account\) .* lacks the tools get_stock_latest_trade: alpaca-mcp-server v2 is needed/,
      );
      expectNoKeys(refused.message);
      expect(await store.db.select().from(orders)).toEqual([]);
    } finally {
      await app.close();
      await app.cleanup();
    }
    // One paper account per account: the tool is not needed, a server without it trades.
    const perAccount = connect(1, mcpStandInCommand({ tradingUrl: standIn.tradingUrl, omitTools: ['get_stock_latest_trade'] }));
    expect((await perAccount.getAccount()).cash).toBe(100_000);
  });
});
