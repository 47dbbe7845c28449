import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlpacaClient, type AlpacaClientOptions } from '../src/broker/alpaca/client.js';
import {
  AlpacaAuthError,
  AlpacaError,
  AlpacaOrderValidationError,
  AlpacaUnavailableError,
  DuplicateClientOrderIdError,
} from '../src/broker/alpaca/errors.js';
import { tradingDaysBetween } from '../src/market/calendar.js';
import { fullErrorText } from '../src/errors.js';
import { SPEC_DIR, SPEC_FILES } from './helpers/alpaca-spec.js';
import { dailyBar, startAlpacaStandIn, type AlpacaStandIn } from './helpers/alpaca-stand-in.js';

/**
 * The Alpaca client against the local Alpaca stand-in (tests/helpers/alpaca-stand-in.ts), which checks
 * every request and every response against Alpaca's OpenAPI documents: after each test there must be
 * no violation.
 */

const KEY_ID = 'PKSTANDIN0TESTKEY001';
const SECRET = 'sEcReT-0123456789abcdefghijklmnopqrstuvwxyzABC';
const LABEL = '3 (sonnet)';

let standIn: AlpacaStandIn;

beforeEach(async () => {
  standIn = await startAlpacaStandIn();
  standIn.addAccount({ keyId: KEY_ID, secretKey: SECRET, cash: 100_000 });
  standIn.setPrice('SPY', 500, 495);
  standIn.setPrice('TLT', 90);
  standIn.setPrice('GLD', 200);
});

afterEach(async () => {
  expect(standIn.violations).toEqual([]);
  await standIn.stop();
});

function client(options: Partial<AlpacaClientOptions> = {}): AlpacaClient {
  return new AlpacaClient({
    keyId: KEY_ID,
    secretKey: SECRET,
    tradingBaseUrl: standIn.tradingUrl,
    dataBaseUrl: standIn.dataUrl,
    accountLabel: LABEL,
    retry: { max_attempts: 3, base_ms: 1, max_ms: 5, max_retry_after_ms: 50 },
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

/** Everything an error could show: message, stack, causes, own properties. */
function everything(error: Error): string {
  return [fullErrorText(error), inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error)].join('\n');
}

const buy = (client_order_id: string, qty: number, symbol = 'SPY') =>
  ({ symbol, side: 'buy', type: 'market', time_in_force: 'day', qty, client_order_id }) as const;

describe('AlpacaClient: account and positions', () => {
  it('reads the account with decimal strings parsed to numbers', async () => {
    const account = await client().getAccount();
    expect(account).toMatchObject({ status: 'ACTIVE', cash: 100_000, equity: 100_000, buyingPower: 100_000, patternDayTrader: false });
    expect(typeof account.raw.cash).toBe('string');
    expect(standIn.calls('getAccount')[0]!.headers).toMatchObject({ 'apca-api-key-id': KEY_ID, 'apca-api-secret-key': SECRET });
  });

  it('tolerates fields Alpaca adds and the pattern-day-trader fields it drops', async () => {
    standIn.transformResponse = (operationId, body) => {
      if (operationId !== 'getAccount') return body;
      const { pattern_day_trader: _p, daytrade_count: _d, daytrading_buying_power: _b, ...rest } = body as Record<string, unknown>;
      return { ...rest, intraday_margin_excess: '1234.5', new_flags: { tier: 'B' } };
    };
    const account = await client().getAccount();
    expect(account).toMatchObject({ cash: 100_000, patternDayTrader: null, daytradeCount: null });
    expect(account.raw.new_flags).toEqual({ tier: 'B' });
  });

  it('buys at once while open, then shows the position (numbers) and null for none', async () => {
    standIn.open();
    const c = client();
    const order = await c.submitOrder(buy('lt-a1-buy', 10));
    expect(order).toMatchObject({ status: 'filled', qty: 10, filledQty: 10, filledAvgPrice: 500, final: true, clientOrderId: 'lt-a1-buy' });
    expect(standIn.calls('postOrder')[0]!.body).toEqual({
      symbol: 'SPY',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      client_order_id: 'lt-a1-buy',
      qty: '10',
    });
    const positions = await c.listPositions();
    expect(positions).toHaveLength(1);
    expect(positions[0]).toMatchObject({ symbol: 'SPY', qty: 10, side: 'long', avgEntryPrice: 500, marketValue: 5000, costBasis: 5000 });
    expect(await c.getPosition('SPY')).toMatchObject({ qty: 10, lastdayPrice: 495 });
    expect(await c.getPosition('GLD')).toBeNull();
    expect((await c.getAccount()).cash).toBe(95_000);
    expect(await c.getOrder(order.id)).toMatchObject({ id: order.id, status: 'filled' });
    expect(await c.getOrder('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('buys a notional amount (market day) and gets a fractional position', async () => {
    standIn.open();
    const order = await client().submitOrder({
      symbol: 'GLD',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      notional: 1000,
      client_order_id: 'n-1',
    });
    expect(order).toMatchObject({ notional: 1000, qty: null, filledQty: 5, status: 'filled' });
    standIn.setPrice('GLD', 300);
    await client().submitOrder({ symbol: 'GLD', side: 'buy', type: 'market', time_in_force: 'day', notional: 100, client_order_id: 'n-2' });
    expect((await client().getPosition('GLD'))!.qty).toBeCloseTo(5.333333333, 9);
  });

  it('opens a short in whole shares, with a signed quantity', async () => {
    standIn.open();
    const order = await client().submitOrder({
      symbol: 'TLT',
      side: 'sell',
      type: 'market',
      time_in_force: 'day',
      qty: 12,
      short: true,
      client_order_id: 's-1',
    });
    expect(order).toMatchObject({ status: 'filled', side: 'sell', filledQty: 12 });
    expect(await client().getPosition('TLT')).toMatchObject({ qty: -12, side: 'short', marketValue: -1080 });
    expect((await client().getAccount()).shortMarketValue).toBe(-1080);
  });

  it('refuses a fractional short before sending: the stand-in receives nothing', async () => {
    standIn.open();
    const error = await rejection(
      client().submitOrder({
        symbol: 'TLT',
        side: 'sell',
        type: 'market',
        time_in_force: 'day',
        qty: 2.5,
        short: true,
        client_order_id: 's-2',
      }),
    );
    expect(error).toBeInstanceOf(AlpacaOrderValidationError);
    expect(error.message).toMatch(/s-2 refused before sending: a short sale must be whole shares/);
    expect(standIn.requests).toEqual([]);
    const notionalOpg = await rejection(
      client().submitOrder({ symbol: 'SPY', side: 'buy', type: 'market', time_in_force: 'opg', notional: 500, client_order_id: 'n-opg' }),
    );
    expect(notionalOpg).toBeInstanceOf(AlpacaOrderValidationError);
    expect(standIn.requests).toEqual([]);
  });

  it('closes a position by percentage, then whole', async () => {
    standIn.open();
    const c = client();
    await c.submitOrder(buy('b-1', 10));
    const half = await c.closePosition('SPY', { percentage: 50 });
    expect(half).toMatchObject({ side: 'sell', qty: 5, status: 'filled' });
    expect(standIn.calls('deleteOpenPosition')[0]!.query).toEqual({ percentage: '50' });
    expect((await c.getPosition('SPY'))!.qty).toBe(5);
    const some = await c.closePosition('SPY', { qty: 2 });
    expect(some.qty).toBe(2);
    const rest = await c.closePosition('SPY');
    expect(rest).toMatchObject({ qty: 3, status: 'filled' });
    expect(await c.getPosition('SPY')).toBeNull();
    const none = await rejection(c.closePosition('SPY'));
    expect(none).toBeInstanceOf(AlpacaError);
    expect(none.message).toMatch(/\(404 40410000\): position does not exist/);
  });
});

describe('AlpacaClient: orders across the open and the close', () => {
  it('accepts an opg order while closed and fills it at the open', async () => {
    const c = client();
    expect((await c.getClock()).isOpen).toBe(false);
    const order = await c.submitOrder({
      symbol: 'SPY',
      side: 'buy',
      type: 'market',
      time_in_force: 'opg',
      qty: 4,
      client_order_id: 'opg-1',
    });
    expect(order).toMatchObject({ status: 'accepted', timeInForce: 'opg', filledQty: 0, filledAvgPrice: null, final: false });
    standIn.setPrice('SPY', 502.25);
    standIn.open();
    const filled = await c.getOrderByClientOrderId('opg-1');
    expect(filled).toMatchObject({ status: 'filled', filledQty: 4, filledAvgPrice: 502.25, filledAt: '2024-03-06T14:30:00.000Z' });
    expect(await c.getOrderByClientOrderId('never-sent')).toBeNull();
  });

  it('fills a cls order at the close', async () => {
    standIn.open();
    const c = client();
    await c.submitOrder({ symbol: 'SPY', side: 'buy', type: 'market', time_in_force: 'cls', qty: 2, client_order_id: 'cls-1' });
    expect((await c.getOrderByClientOrderId('cls-1'))!.status).toBe('new');
    standIn.setPrice('SPY', 498.5);
    standIn.close();
    expect(await c.getOrderByClientOrderId('cls-1')).toMatchObject({
      status: 'filled',
      filledAvgPrice: 498.5,
      filledAt: '2024-03-06T21:00:00.000Z',
    });
  });

  it('shows a partial fill, then the rest', async () => {
    standIn.open();
    standIn.partialFill(KEY_ID, 'p-1', 4);
    const c = client();
    const order = await c.submitOrder(buy('p-1', 10));
    expect(order).toMatchObject({ status: 'partially_filled', qty: 10, filledQty: 4, final: false });
    expect((await c.getPosition('SPY'))!.qty).toBe(4);
    standIn.fillRemaining(KEY_ID, 'p-1');
    expect(await c.getOrderByClientOrderId('p-1')).toMatchObject({ status: 'filled', filledQty: 10 });
  });

  it('surfaces Alpaca refusals with its message; an order the account cannot afford is not a key problem', async () => {
    standIn.open();
    const error = await rejection(client().submitOrder(buy('big-1', 1000)));
    expect(error).toBeInstanceOf(AlpacaError);
    expect(error).not.toBeInstanceOf(AlpacaAuthError);
    expect(error.message).toBe(`Alpaca refused POST /v2/orders for account ${LABEL} (403 40310000): insufficient buying power`);
    expect((error as AlpacaError).status).toBe(403);
  });
});

describe('AlpacaClient: duplicate client_order_id', () => {
  it('throws DuplicateClientOrderIdError, and getOrderByClientOrderId finds the original', async () => {
    standIn.open();
    const c = client();
    const first = await c.submitOrder(buy('dup-1', 3));
    const error = await rejection(c.submitOrder(buy('dup-1', 7)));
    expect(error).toBeInstanceOf(DuplicateClientOrderIdError);
    expect(error).toMatchObject({ clientOrderId: 'dup-1', status: 422, code: 40010001, afterRetry: false });
    expect(error.message).toMatch(/client_order_id must be unique/);
    expect(await c.getOrderByClientOrderId('dup-1')).toMatchObject({ id: first.id, qty: 3 });
  });

  it('keeps an id taken after a cancel', async () => {
    standIn.open();
    const c = client();
    const resting = await c.submitOrder({
      symbol: 'SPY',
      side: 'buy',
      type: 'limit',
      limit_price: 400,
      time_in_force: 'day',
      qty: 1,
      client_order_id: 'lim-1',
    });
    expect(resting.status).toBe('new');
    await c.cancelOrder(resting.id);
    expect((await c.getOrder(resting.id))!.status).toBe('canceled');
    expect(await rejection(c.submitOrder(buy('lim-1', 1)))).toBeInstanceOf(DuplicateClientOrderIdError);
    const again = await rejection(c.cancelOrder(resting.id));
    expect(again).toBeInstanceOf(AlpacaError);
    expect((again as AlpacaError).status).toBe(422);
  });

  it('reports a duplicate caused by its own retry (the first answer was lost) so the caller looks the order up', async () => {
    standIn.open();
    standIn.fail({ status: 502, afterHandling: true, when: (r) => r.operationId === 'postOrder' });
    const c = client();
    const error = await rejection(c.submitOrder(buy('lost-1', 2)));
    expect(error).toBeInstanceOf(DuplicateClientOrderIdError);
    expect((error as DuplicateClientOrderIdError).afterRetry).toBe(true);
    expect(standIn.calls('postOrder').map((r) => r.status)).toEqual([502, 422]);
    expect(await c.getOrderByClientOrderId('lost-1')).toMatchObject({ status: 'filled', filledQty: 2 });
  });
});

describe('AlpacaClient: keys', () => {
  it('401 names the account whose keys failed, never the keys', async () => {
    const wrong = client({ secretKey: 'wrong-secret-value-1234567890' });
    const error = await rejection(wrong.getAccount());
    expect(error).toBeInstanceOf(AlpacaAuthError);
    expect(error.message).toBe(`Alpaca rejected the keys of account ${LABEL} (401): request is not authorized`);
    for (const secret of [KEY_ID, 'wrong-secret-value-1234567890', SECRET]) expect(everything(error)).not.toContain(secret);
    expect(standIn.calls('getAccount')).toHaveLength(1); // not retried
  });

  it('redacts a key that a gateway echoes back', async () => {
    standIn.fail({ status: 401, body: { message: `invalid key ${KEY_ID} / ${SECRET}` } });
    const error = await rejection(client().getClock());
    expect(error).toBeInstanceOf(AlpacaAuthError);
    expect(error.message).toBe(`Alpaca rejected the keys of account ${LABEL} (401): invalid key [REDACTED] / [REDACTED]`);
    expect(everything(error)).not.toContain(SECRET);
    expect(everything(error)).not.toContain(KEY_ID);
  });

  it('403 forbidden keys name the account too', async () => {
    standIn.addAccount({ keyId: 'PKFORBIDDEN000000001', secretKey: 'forbidden-secret-000111', forbidden: true });
    const error = await rejection(
      client({ keyId: 'PKFORBIDDEN000000001', secretKey: 'forbidden-secret-000111', accountLabel: '5 (council)' }).listPositions(),
    );
    expect(error).toBeInstanceOf(AlpacaAuthError);
    expect(error.message).toBe('Alpaca rejected the keys of account 5 (council) (403): forbidden.');
    expect(everything(error)).not.toContain('forbidden-secret-000111');
  });
});

describe('AlpacaClient: rate limits, server errors, network errors', () => {
  it('waits for X-RateLimit-Reset on a 429, then succeeds', async () => {
    const waits: number[] = [];
    standIn.rateLimit(2, 3);
    const c = client({
      sleep: async (ms) => void waits.push(ms),
      retry: { max_attempts: 3, base_ms: 1, max_ms: 5, max_retry_after_ms: 10_000 },
    });
    expect((await c.getClock()).isOpen).toBe(false);
    expect(standIn.calls('LegacyClock').map((r) => r.status)).toEqual([429, 429, 200]);
    expect(waits).toHaveLength(2);
    for (const ms of waits) {
      expect(ms).toBeGreaterThan(2000);
      expect(ms).toBeLessThanOrEqual(4000);
    }
  });

  it('really sleeps the advertised wait, capped by the policy', async () => {
    standIn.rateLimit(1, 30);
    const c = client({ retry: { max_attempts: 2, base_ms: 1, max_ms: 5, max_retry_after_ms: 60 } });
    await c.getAccount();
    const [limited, ok] = standIn.calls('getAccount');
    expect(limited!.status).toBe(429);
    expect(ok!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(55);
  });

  it('retries 5xx, then surfaces the failure', async () => {
    standIn.fail({ status: 503, times: 1 });
    expect((await client().getAccount()).cash).toBe(100_000);
    standIn.fail({ status: 500, times: 5, body: { code: 50010000, message: 'internal server error occurred' } });
    const error = await rejection(client().listPositions());
    expect(error).toBeInstanceOf(AlpacaUnavailableError);
    expect(error.message).toBe(
      `Alpaca GET /v2/positions for account ${LABEL} failed after 3 tries: HTTP 500: internal server error occurred`,
    );
    expect((error as AlpacaUnavailableError).status).toBe(500);
    expect(standIn.calls('getAllOpenPositions')).toHaveLength(3);
  });

  it('retries a dropped connection on a read', async () => {
    standIn.fail({ drop: true });
    expect((await client().getClock()).isOpen).toBe(false);
    expect(standIn.calls('LegacyClock').map((r) => r.status)).toEqual([0, 200]);
  });

  it('does not repeat a position close after an ambiguous failure, but does after a 429', async () => {
    standIn.open();
    const c = client();
    await c.submitOrder(buy('b-2', 10));
    standIn.fail({ status: 503, afterHandling: true, when: (r) => r.operationId === 'deleteOpenPosition' });
    const error = await rejection(c.closePosition('SPY', { percentage: 50 }));
    expect(error).toBeInstanceOf(AlpacaUnavailableError);
    expect(error.message).toMatch(/not retried: repeating it could act twice/);
    expect((await c.getPosition('SPY'))!.qty).toBe(5); // closed once, not twice
    standIn.rateLimit(1, 0);
    expect((await c.closePosition('SPY', { percentage: 100 })).qty).toBe(5);
    expect(standIn.calls('deleteOpenPosition').map((r) => r.status)).toEqual([503, 429, 200]);
  });
});

describe('AlpacaClient: clock, calendar, market data', () => {
  it('reads the clock as UTC instants', async () => {
    const c = client();
    expect(await c.getClock()).toMatchObject({
      isOpen: false,
      timestamp: '2024-03-06T13:00:00.000Z',
      nextOpen: '2024-03-06T14:30:00.000Z',
      nextClose: '2024-03-06T21:00:00.000Z',
    });
    expect(standIn.calls('LegacyClock')[0]!.status).toBe(200);
    standIn.open();
    expect(await c.getClock()).toMatchObject({ isOpen: true, nextOpen: '2024-03-07T14:30:00.000Z' });
  });

  it('reads the calendar: New York wall times, early closes, holidays left out', async () => {
    const days = await client().getCalendar('2024-11-25', '2024-12-02');
    expect(days.map((d) => d.date)).toEqual(['2024-11-25', '2024-11-26', '2024-11-27', '2024-11-29', '2024-12-02']);
    expect(days[3]).toEqual({
      date: '2024-11-29',
      open: '09:30',
      close: '13:00',
      openAt: '2024-11-29T14:30:00.000Z',
      closeAt: '2024-11-29T18:00:00.000Z',
      sessionOpen: '04:00',
      sessionClose: '20:00',
      settlementDate: '2024-12-02',
    });
    // Summer time: the same wall clock is an hour earlier in UTC.
    expect((await client().getCalendar('2024-07-01', '2024-07-01'))[0]).toMatchObject({
      openAt: '2024-07-01T13:30:00.000Z',
      closeAt: '2024-07-01T20:00:00.000Z',
    });
    expect(standIn.calls('LegacyCalendar')[0]!.query).toEqual({ start: '2024-11-25', end: '2024-12-02' });
  });

  it('follows next_page_token across pages, with feed and adjustment', async () => {
    standIn.pageLimit = 10;
    const spyDays = tradingDaysBetween('2024-01-02', '2024-02-06').slice(0, 25);
    const qqqDays = spyDays.slice(0, 20);
    standIn.setBars(
      'SPY',
      spyDays.map((d, i) => dailyBar(d, 470 + i)),
    );
    standIn.setBars(
      'QQQ',
      qqqDays.map((d, i) => dailyBar(d, 400 + i)),
    );
    const bars = await client().getBars(['SPY', 'QQQ', 'GLD'], '1Day', '2024-01-01', '2024-02-29', {
      feed: 'iex',
      adjustment: 'all',
      pageLimit: 10,
    });
    expect(bars.SPY).toHaveLength(25);
    expect(bars.QQQ).toHaveLength(20);
    expect(bars.GLD).toEqual([]);
    expect(bars.SPY![0]).toEqual({
      timestamp: '2024-01-02T05:00:00.000Z',
      open: 469.5,
      high: 471,
      low: 469,
      close: 470,
      volume: 1_000_000,
      tradeCount: 1000,
      vwap: 469.9,
    });
    expect(bars.SPY!.map((b) => b.close)).toEqual(spyDays.map((_, i) => 470 + i));
    const pages = standIn.calls('StockBars');
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages).toHaveLength(5);
    expect(pages[0]!.query.page_token).toBeUndefined();
    for (const page of pages.slice(1)) expect(page.query.page_token).toEqual(expect.any(String));
    for (const page of pages)
      expect(page.query).toMatchObject({ feed: 'iex', adjustment: 'all', limit: '10', timeframe: '1Day', symbols: 'SPY,QQQ,GLD' });
  });

  it('reads the latest trade', async () => {
    expect(await client().getLatestTrade('SPY')).toMatchObject({ symbol: 'SPY', price: 500, size: 100, exchange: 'V' });
    expect(standIn.calls('StockLatestTradeSingle')[0]!.query).toEqual({ feed: 'iex' });
  });
});

/** The project's shared reference data beside the clone (as on the developers' machines and CI), when it is there. */
const SHARED_SPECS = fileURLToPath(new URL('../../shared/specs/alpaca/', import.meta.url));

describe('the stand-in holds to the spec', () => {
  it.skipIf(!existsSync(SHARED_SPECS))("validates against an unchanged copy of Alpaca's documents", () => {
    for (const file of SPEC_FILES)
      expect(readFileSync(join(SPEC_DIR, file)).equals(readFileSync(join(SHARED_SPECS, file))), file).toBe(true);
  });

  it('records requests and responses the spec forbids', async () => {
    const headers = { 'APCA-API-KEY-ID': KEY_ID, 'APCA-API-SECRET-KEY': SECRET, 'Content-Type': 'application/json' };
    await fetch(`${standIn.tradingUrl}/v2/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        symbol: 'SPY',
        side: 'buy',
        type: 'market',
        time_in_force: 'day',
        qty: 1,
        client_order_id: 'raw-1',
        shortt: true,
      }),
    });
    await fetch(`${standIn.dataUrl}/v2/stocks/bars?symbols=SPY&timeframe=1Day&feed=nasdaq&pagetoken=x`, { headers });
    standIn.transformResponse = (_op, body) => ({ ...(body as object), cash: 100000 });
    await fetch(`${standIn.tradingUrl}/v2/account`, { headers });
    const problems = standIn.violations.flatMap((v) => v.problems.map((p) => `${v.phase} ${v.operationId}: ${p}`));
    expect(problems).toEqual([
      'request postOrder: /requestBody/qty must be string',
      'request postOrder: body property "shortt" is not in the spec',
      'request StockBars: /query must NOT have additional properties: "pagetoken"',
      'request StockBars: /query/feed must be equal to one of the allowed values (iex, otc, sip, boats)',
      'response getAccount: response 200 /cash must be string',
    ]);
    standIn.violations.length = 0;
  });
});

describe('AlpacaClient: options', () => {
  it('refuses unusable keys and URLs without quoting them', () => {
    expect(() => new AlpacaClient({ keyId: '', secretKey: 'x' })).toThrow('Alpaca account alpaca has no key id');
    expect(() => new AlpacaClient({ keyId: 'k', secretKey: 'bad secret\n', accountLabel: '2' })).toThrow(
      /secret key of Alpaca account 2 has spaces/,
    );
    expect(() => new AlpacaClient({ keyId: 'kkkk', secretKey: 'ssss', tradingBaseUrl: 'ftp://x' })).toThrow(/must be http/);
  });
});
