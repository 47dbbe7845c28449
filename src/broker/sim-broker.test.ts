import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledMarketData } from '../market/bundled-market-data.js';
import { etToUtc } from '../market/calendar.js';
import type { Bar, PriceQuote } from '../market/types.js';
import type { OrderRequest, OrderResult } from '../ports/broker.js';
import { SimulatedClock } from '../ports/clock.js';
import type { MarketData } from '../ports/market-data.js';
import { openStore, type Store } from '../storage/db.js';
import { accounts, events, fills, orders, positions } from '../storage/schema.js';
import { SimulatedBroker } from './sim-broker.js';
import { submissionValues } from './sim-writes.js';

/** Prices by ticker and session date, the same at every time of day; 16:00 counts as a real print. */
class FakeMarketData implements MarketData {
  readonly name = 'fake';
  readonly prices = new Map<string, Map<string, number>>();
  set(ticker: string, date: string, price: number): this {
    const byDate = this.prices.get(ticker) ?? new Map<string, number>();
    byDate.set(date, price);
    this.prices.set(ticker, byDate);
    return this;
  }
  async priceAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    const price = this.prices.get(ticker)?.get(date);
    if (price === undefined) throw new Error(`no ${ticker} bar on ${date}`);
    const real = time === '16:00';
    return { ticker, price, date, time, source: real ? 'bar_close' : 'intraday_model', approximate: !real };
  }
  async lastPrintAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    return { ...(await this.priceAt(ticker, date, time)), source: 'bar_close', approximate: false };
  }
  async bars(ticker: string, through: string, limit?: number): Promise<Bar[]> {
    const rows = [...(this.prices.get(ticker) ?? new Map<string, number>())]
      .filter(([d]) => d <= through)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([date, p]) => ({ date, open: p, high: p, low: p, close: p, adjClose: p, volume: 1 }));
    return limit === undefined ? rows : rows.slice(-limit);
  }
  async coverage(): Promise<{ first: string; last: string }> {
    return { first: '2024-01-01', last: '2024-12-31' };
  }
}

const WED = '2024-03-06';
const THU = '2024-03-07';
const SAT = '2024-03-09';
const execution = { slippage_bps: 2, commission_per_share: 0.005, min_commission: 1 };

/**
 * PGlite always; with TEST_DATABASE_URL also PostgreSQL, where a pool runs transactions truly in
 * parallel (row locks matter). Each run gets a database of its own, dropped afterwards, so runs and
 * other test files never see each other's accounts.
 */
const backends = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgres'] : [])] as const;

async function openBackend(backend: string): Promise<{ store: Store; close: () => Promise<void> }> {
  const url = process.env.TEST_DATABASE_URL;
  if (backend === 'pglite' || !url) {
    const store = await openStore({ memory: true });
    return { store, close: () => store.close() };
  }
  const name = `lt_broker_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const own = new URL(url);
  own.pathname = `/${name}`;
  const store = await openStore({ databaseUrl: own.toString() });
  return {
    store,
    close: async () => {
      await store.close();
      await admin(`drop database if exists ${name}`);
    },
  };
}

describe.each(backends)('SimulatedBroker on %s', (backend) => {
  let store: Store;
  let closeStore: (() => Promise<void>) | undefined;
  const clock = new SimulatedClock(etToUtc(WED, '10:00'));
  const market = new FakeMarketData()
    .set('SPY', WED, 500)
    .set('SPY', THU, 510)
    .set('TLT', WED, 90)
    .set('TLT', THU, 85)
    .set('GLD', WED, 200)
    .set('IEF', WED, 123.456789);
  let broker: SimulatedBroker;

  beforeAll(async () => {
    const opened = await openBackend(backend);
    store = opened.store;
    closeStore = opened.close;
    broker = new SimulatedBroker({ db: store.db, portfolio: 'test', marketData: market, clock, execution });
    await broker.ensureAccounts(
      Array.from({ length: 20 }, (_, i) => ({ id: i + 1, owner: `owner-${i + 1}` })),
      100_000,
    );
  }, 30_000);

  afterAll(async () => {
    await closeStore?.();
  });

  function at(date: string, time: string): void {
    clock.set(etToUtc(date, time));
  }

  function order(accountId: number, action: string, ticker: string, side: 'buy' | 'sell', qty: number): OrderRequest {
    return {
      clientOrderId: `test-a${accountId}-${action}`,
      accountId,
      weekId: WED,
      checkpoint: 'weekly',
      action,
      ticker,
      side,
      qty,
      type: 'market',
    };
  }

  async function cashOf(accountId: number): Promise<number> {
    const [row] = await store.db.select().from(accounts).where(eq(accounts.id, accountId));
    return row!.cash;
  }

  async function positionsOf(accountId: number) {
    return store.db.select().from(positions).where(eq(positions.accountId, accountId));
  }

  async function fillCount(clientOrderId: string): Promise<number> {
    return (await store.db.select().from(fills).where(eq(fills.clientOrderId, clientOrderId))).length;
  }

  describe('SimulatedBroker fills', () => {
    it('buys at the model price plus slippage, charges commission and debits cash', async () => {
      at(WED, '10:00');
      const result = await broker.submitOrder(order(1, 'open-SPY', 'SPY', 'buy', 100));
      // 500 × (1 + 2 bp) = 500.1; commission max(1, 100 × 0.005 = 0.5) = 1.
      expect(result).toMatchObject({
        status: 'filled',
        filledQty: 100,
        filledAvgPrice: 500.1,
        commission: 1,
        duplicate: false,
        approximatePrice: true,
        rejectReason: null,
        submittedAt: etToUtc(WED, '10:00').toISOString(),
        filledAt: etToUtc(WED, '10:00').toISOString(),
      });
      expect(await cashOf(1)).toBe(100_000 - 50_010 - 1);
      expect(await positionsOf(1)).toMatchObject([{ ticker: 'SPY', qty: 100, avgEntryPrice: 500.1 }]);

      const state = await broker.account(1);
      expect(state).toMatchObject({ accountId: 1, owner: 'owner-1', cash: 49_989, equity: 99_989, approximateMarks: true });
      expect(state.positions).toEqual([
        { ticker: 'SPY', qty: 100, avgEntryPrice: 500.1, marketPrice: 500, marketValue: 50_000, unrealizedPnl: -10 },
      ]);
    });

    it('sells part at the model price minus slippage and keeps the average entry', async () => {
      at(THU, '16:00');
      const result = await broker.submitOrder(order(1, 'reduce-SPY', 'SPY', 'sell', 40));
      // 510 × (1 − 2 bp) = 509.898; 40 × 509.898 = 20 395.92; commission 1.
      expect(result).toMatchObject({ status: 'filled', filledAvgPrice: 509.898, commission: 1, approximatePrice: false });
      expect(await cashOf(1)).toBe(70_383.92);
      expect(await positionsOf(1)).toMatchObject([{ ticker: 'SPY', qty: 60, avgEntryPrice: 500.1 }]);
      const state = await broker.account(1);
      expect(state.equity).toBe(100_983.92); // 70 383.92 + 60 × 510
      expect(state.positions[0]!.unrealizedPnl).toBe(594); // 60 × (510 − 500.1)
      expect(state.approximateMarks).toBe(false);
    });

    it('re-averages the entry price when a position grows', async () => {
      at(THU, '10:00');
      await broker.submitOrder(order(1, 'add-SPY', 'SPY', 'buy', 40));
      // (60 × 500.1 + 40 × 510.102) / 100 = 504.1008
      expect(await positionsOf(1)).toMatchObject([{ qty: 100, avgEntryPrice: 504.1008 }]);
    });

    it('rounds prices to 6 decimals and cash to cents', async () => {
      at(WED, '10:00');
      const result = await broker.submitOrder(order(2, 'open-IEF', 'IEF', 'buy', 7));
      // 123.456789 × 1.0002 = 123.4814803578 → 123.48148; 7 × 123.48148 = 864.37036 → 864.37
      expect(result.filledAvgPrice).toBe(123.48148);
      expect(await cashOf(2)).toBe(99_134.63);
    });

    it('shorts: credits proceeds to cash, counts the short as a liability, and covers', async () => {
      at(WED, '10:00');
      const short = await broker.submitOrder(order(3, 'open-TLT', 'TLT', 'sell', 100));
      // 90 × 0.9998 = 89.982 → proceeds 8 998.20 − 1 commission
      expect(short).toMatchObject({ status: 'filled', filledAvgPrice: 89.982 });
      expect(await cashOf(3)).toBe(108_997.2);
      expect(await positionsOf(3)).toMatchObject([{ ticker: 'TLT', qty: -100, avgEntryPrice: 89.982 }]);
      const state = await broker.account(3);
      expect(state.equity).toBe(108_997.2 - 9_000);
      expect(state.positions[0]).toMatchObject({ marketValue: -9_000, unrealizedPnl: -1.8 });

      at(THU, '10:00');
      const cover = await broker.submitOrder(order(3, 'close-TLT', 'TLT', 'buy', 100));
      // 85 × 1.0002 = 85.017 → cost 8 501.70 + 1
      expect(cover).toMatchObject({ status: 'filled', filledAvgPrice: 85.017 });
      expect(await cashOf(3)).toBe(100_494.5);
      expect(await positionsOf(3)).toEqual([]);
      expect((await broker.account(3)).equity).toBe(100_494.5);
    });

    it('flips long to short in one order and resets the average entry to the fill price', async () => {
      at(WED, '10:00');
      await broker.submitOrder(order(4, 'open-GLD', 'GLD', 'buy', 10));
      expect(await cashOf(4)).toBe(97_998.6); // 10 × 200.04 + 1
      await broker.submitOrder(order(4, 'flip-GLD', 'GLD', 'sell', 30));
      // 30 × 199.96 = 5 998.80 − 1
      expect(await cashOf(4)).toBe(103_996.4); // 97 998.60 + 5 997.80
      expect(await positionsOf(4)).toMatchObject([{ ticker: 'GLD', qty: -20, avgEntryPrice: 199.96 }]);
    });

    it('fills at the bundled data price: the 09:30 open is a real print', async () => {
      const bundled = new SimulatedBroker({ db: store.db, portfolio: 'test', marketData: new BundledMarketData(), clock, execution });
      at(WED, '09:30');
      const result = await bundled.submitOrder(order(5, 'open-SPY-bundled', 'SPY', 'buy', 3));
      // SPY open on 2024-03-06 is 510.549988; × 1.0002 = 510.6520979976 → 510.652098
      expect(result).toMatchObject({ status: 'filled', filledAvgPrice: 510.652098, approximatePrice: false });
      expect(await cashOf(5)).toBe(98_467.04); // 3 × 510.652098 = 1 531.956294 → 1 531.96, + 1 commission
    });

    it('allows a full-equity buy to overshoot cash by slippage and commission (within 1% of equity)', async () => {
      at(WED, '10:00');
      const result = await broker.submitOrder(order(6, 'open-SPY', 'SPY', 'buy', 200));
      expect(result.status).toBe('filled');
      expect(await cashOf(6)).toBe(-21); // 200 × 500.1 + 1
    });

    it('never refuses a risk-reducing order for money, even when cash goes negative', async () => {
      at(WED, '10:00');
      await broker.submitOrder(order(7, 'open-SPY', 'SPY', 'sell', 190));
      const spike = new FakeMarketData().set('SPY', THU, 1_100);
      const spiked = new SimulatedBroker({ db: store.db, portfolio: 'test', marketData: spike, clock, execution });
      at(THU, '10:00');
      const cover = await spiked.submitOrder(order(7, 'close-SPY', 'SPY', 'buy', 190));
      expect(cover.status).toBe('filled');
      expect(await cashOf(7)).toBeLessThan(0);
      expect(await positionsOf(7)).toEqual([]);
    });

    it('marks at the last close before a closed day and flags the marks approximate', async () => {
      at(SAT, '12:00');
      const state = await broker.account(4); // short 20 GLD, last price 200 on Wednesday
      expect(state.positions[0]).toMatchObject({ marketPrice: 200, marketValue: -4_000 });
      expect(state.approximateMarks).toBe(true);
      expect(state.markedAt).toBe(etToUtc(SAT, '12:00').toISOString());
    });
  });

  describe('SimulatedBroker idempotency', () => {
    it('returns the stored order with duplicate=true and changes nothing on re-submit', async () => {
      at(WED, '10:00');
      const request = order(8, 'open-SPY', 'SPY', 'buy', 10);
      const first = await broker.submitOrder(request);
      const cash = await cashOf(8);
      at(THU, '10:00'); // a later re-run, at another price: must not matter
      const again = await broker.submitOrder(request);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await fillCount(request.clientOrderId)).toBe(1);
      expect(await cashOf(8)).toBe(cash);
      expect(await positionsOf(8)).toMatchObject([{ qty: 10 }]);
      expect(await broker.getOrder(request.clientOrderId)).toEqual(first);
    });

    it('fills exactly once when the same order is submitted concurrently', async () => {
      at(WED, '10:00');
      const request = order(9, 'open-TLT', 'TLT', 'buy', 50);
      const results = await Promise.all([1, 2, 3, 4].map(() => broker.submitOrder(request)));
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(results.every((r) => r.status === 'filled' && r.filledAvgPrice === 90.018)).toBe(true);
      expect(await fillCount(request.clientOrderId)).toBe(1);
      expect(await cashOf(9)).toBe(95_498.1); // 50 × 90.018 + 1
      expect(await positionsOf(9)).toMatchObject([{ ticker: 'TLT', qty: 50 }]);
    });

    it('keeps different concurrent orders of one account consistent', async () => {
      at(WED, '10:00');
      await Promise.all([broker.submitOrder(order(10, 'buy-a', 'GLD', 'buy', 5)), broker.submitOrder(order(10, 'buy-b', 'GLD', 'buy', 5))]);
      expect(await positionsOf(10)).toMatchObject([{ qty: 10, avgEntryPrice: 200.04 }]);
      expect(await cashOf(10)).toBe(97_997.6); // 2 × (5 × 200.04 + 1)
    });

    it('rolls the whole order back when any write fails: no order, no cash change', async () => {
      at(WED, '10:00');
      const request = order(11, 'open-SPY', 'SPY', 'buy', 10);
      // A stray fill row with this id makes the fill insert violate its unique key mid-transaction.
      await store.db.insert(fills).values({
        clientOrderId: request.clientOrderId,
        portfolio: 'test',
        accountId: 99,
        ticker: 'SPY',
        side: 'buy',
        qty: 1,
        price: 1,
        commission: 0,
        filledAt: new Date(),
      });
      await expect(broker.submitOrder(request)).rejects.toThrow();
      expect(await broker.getOrder(request.clientOrderId)).toBeNull();
      expect(await cashOf(11)).toBe(100_000);
      expect(await positionsOf(11)).toEqual([]);
    });
  });

  describe('SimulatedBroker rejections are recorded', () => {
    async function expectRejected(request: OrderRequest, reason: RegExp): Promise<void> {
      const cash = await cashOf(request.accountId);
      const before = await positionsOf(request.accountId);
      const result = await broker.submitOrder(request);
      expect(result).toMatchObject({ status: 'rejected', filledQty: 0, filledAvgPrice: null, commission: 0, duplicate: false });
      expect(result.rejectReason).toMatch(reason);
      const [row] = await store.db.select().from(orders).where(eq(orders.clientOrderId, request.clientOrderId));
      expect(row).toMatchObject({ status: 'rejected', rejectReason: result.rejectReason });
      const [event] = await store.db
        .select()
        .from(events)
        .where(eq(events.idempotencyKey, `order:${request.clientOrderId}`));
      expect(event).toMatchObject({ kind: 'order', portfolio: 'test', payload: { status: 'rejected', result: { status: 'rejected' } } });
      expect(await fillCount(request.clientOrderId)).toBe(0);
      expect(await cashOf(request.accountId)).toBe(cash);
      expect(await positionsOf(request.accountId)).toEqual(before);
      // A rejected order is idempotent too.
      expect(await broker.submitOrder(request)).toEqual({ ...result, duplicate: true });
    }

    it('a fractional short', async () => {
      at(WED, '10:00');
      await expectRejected(order(12, 'open-TLT', 'TLT', 'sell', 1.5), /whole shares/);
    });

    it('a whole sell that would leave a fractional short', async () => {
      at(WED, '10:00');
      await broker.submitOrder(order(12, 'open-GLD', 'GLD', 'buy', 2.5));
      await expectRejected(order(12, 'flip-GLD', 'GLD', 'sell', 5), /whole shares/);
      // Selling a fractional long down to zero is fine.
      expect((await broker.submitOrder(order(12, 'close-GLD', 'GLD', 'sell', 2.5))).status).toBe('filled');
    });

    it('a buy the cash does not cover', async () => {
      at(WED, '10:00');
      await expectRejected(order(13, 'open-SPY', 'SPY', 'buy', 1_000), /insufficient cash/);
    });

    it('a short beyond 1× equity gross', async () => {
      at(WED, '10:00');
      await expectRejected(order(13, 'open-SPY-short', 'SPY', 'sell', 300), /gross exposure/);
    });

    it('no bar that day (market closed)', async () => {
      at(SAT, '10:00');
      await expectRejected(order(14, 'open-SPY', 'SPY', 'buy', 1), /no price for SPY at 2024-03-09 10:00 ET/);
    });

    it('a quantity that is not positive', async () => {
      at(WED, '10:00');
      await expectRejected(order(14, 'zero', 'SPY', 'buy', 0), /quantity must be positive/);
      await expectRejected(order(14, 'negative', 'SPY', 'sell', -3), /quantity must be positive/);
    });

    it('an unknown account', async () => {
      at(WED, '10:00');
      const result = await broker.submitOrder(order(999, 'open-SPY', 'SPY', 'buy', 1));
      expect(result).toMatchObject({ status: 'rejected', rejectReason: 'unknown account 999 in portfolio test' });
    });

    it('throws (records nothing) for a missing client_order_id', async () => {
      await expect(broker.submitOrder({ ...order(14, 'x', 'SPY', 'buy', 1), clientOrderId: '' })).rejects.toThrow(/client_order_id/);
    });
  });

  describe('SimulatedBroker batches', () => {
    /**
     * One submission of many orders must leave exactly what submitting them one by one leaves: the
     * same results, rows (fills and events in the same order) and rejection reasons. Each way runs in
     * a portfolio of its own; ids carry the portfolio's name, replaced before comparing.
     */
    function requests(portfolio: string): OrderRequest[] {
      const o = (accountId: number, action: string, ticker: string, side: 'buy' | 'sell', qty: number): OrderRequest => ({
        ...order(accountId, action, ticker, side, qty),
        clientOrderId: `${portfolio}-a${accountId}-${action}`,
      });
      return [
        o(1, 'open-SPY', 'SPY', 'buy', 100),
        o(1, 'close-SPY', 'SPY', 'sell', 100),
        o(1, 'open-TLT', 'TLT', 'buy', 50),
        o(2, 'open-SPY', 'SPY', 'buy', 150),
        o(2, 'open-GLD', 'GLD', 'buy', 200), // the cash is gone
        o(3, 'open-TLT', 'TLT', 'sell', 1.5), // a fractional short
        o(4, 'open-GLD', 'GLD', 'buy', 2.5),
        o(4, 'flip-GLD', 'GLD', 'sell', 5), // would leave a fractional short
        o(4, 'close-GLD', 'GLD', 'sell', 2.5),
        o(999, 'open-SPY', 'SPY', 'buy', 1), // no such account
        o(5, 'open-XXX', 'XXX', 'buy', 1), // no price
        o(5, 'zero', 'SPY', 'buy', 0),
        o(6, 'open-SPY', 'SPY', 'sell', 300), // beyond 1× equity gross
        o(7, 'open-SPY', 'SPY', 'buy', 10),
        o(7, 'flip-SPY', 'SPY', 'sell', 20),
        o(8, 'open-IEF', 'IEF', 'buy', 7), // submitted before: a duplicate
      ];
    }

    async function books(portfolio: string): Promise<string> {
      const rows = async (query: string) => ((await store.db.execute(sql.raw(query))) as unknown as { rows: unknown[] }).rows;
      const of = `where portfolio = '${portfolio}'`;
      const text = JSON.stringify({
        orders: await rows(`select * from orders ${of} order by client_order_id`),
        fills: await rows(
          `select client_order_id, account_id, ticker, side, qty, price, commission, filled_at from fills ${of} order by id`,
        ),
        positions: await rows(
          `select account_id, ticker, qty, avg_entry_price, updated_at from positions ${of} order by account_id, ticker`,
        ),
        accounts: await rows(`select id, cash from accounts ${of} order by id`),
        events: await rows(`select idempotency_key, week_id, kind, stage, payload from events ${of} order by id`),
      });
      return text.replaceAll(portfolio, 'P');
    }

    it('submitOrders leaves exactly what submitOrder one by one leaves', async () => {
      at(WED, '10:00');
      const results: Record<string, string> = {};
      for (const [portfolio, batch] of [
        ['one-by-one', false],
        ['batched', true],
      ] as const) {
        const b = new SimulatedBroker({ db: store.db, portfolio, marketData: market, clock, execution });
        await b.ensureAccounts(
          Array.from({ length: 8 }, (_, i) => ({ id: i + 1, owner: `owner-${i + 1}` })),
          100_000,
        );
        const list = requests(portfolio);
        await b.submitOrder(list.at(-1) as OrderRequest);
        const got: OrderResult[] = [];
        if (batch) got.push(...(await b.submitOrders(list)));
        else for (const r of list) got.push(await b.submitOrder(r));
        results[portfolio] = JSON.stringify(got).replaceAll(portfolio, 'P') + (await books(portfolio));
      }
      expect(results['batched']).toBe(results['one-by-one']);
      expect(results['batched']).toContain('insufficient cash');
      expect(results['batched']).toContain('gross exposure');
    });

    it('submits an id given twice in one batch once, the second as a duplicate', async () => {
      at(WED, '10:00');
      const request = { ...order(15, 'open-GLD', 'GLD', 'buy', 3), clientOrderId: 'twice-a15' };
      const [first, second] = await broker.submitOrders([request, request]);
      expect(first).toMatchObject({ status: 'filled', duplicate: false });
      expect(second).toEqual({ ...first, duplicate: true });
      expect(await fillCount(request.clientOrderId)).toBe(1);
    });
  });

  describe('SimulatedBroker accounts', () => {
    it('ensureAccounts creates missing accounts and leaves existing ones alone', async () => {
      const cashBefore = await cashOf(1);
      await broker.ensureAccounts(
        [
          { id: 1, owner: 'someone else' },
          { id: 50, owner: 'new' },
        ],
        25_000,
      );
      const [one] = await store.db.select().from(accounts).where(eq(accounts.id, 1));
      expect(one).toMatchObject({ owner: 'owner-1', cash: cashBefore, startingCash: 100_000, broker: 'sim' });
      const state = await broker.account(50);
      expect(state).toMatchObject({ cash: 25_000, equity: 25_000, positions: [], approximateMarks: false });
    });

    it('getOrder returns null for an unknown id and account() throws for an unknown account', async () => {
      expect(await broker.getOrder('nope')).toBeNull();
      await expect(broker.account(12345)).rejects.toThrow(/unknown account/);
    });
  });
});

describe('a submission statement', () => {
  it("refuses a row of another portfolio than the submission's (its keys are looked up in that portfolio only)", () => {
    const writes = { portfolio: 'p', positions: [], fills: [], events: [], orders: [], cash: [{ portfolio: 'q', id: 1, cash: 5 }] };
    expect(() => submissionValues(writes)).toThrow('a submission of portfolio p writes a row of portfolio q');
    expect(submissionValues({ ...writes, cash: [{ portfolio: 'p', id: 1, cash: 5 }] })).toMatchObject({
      portfolio: 'p',
      cashAccounts: [1],
    });
  });
});
