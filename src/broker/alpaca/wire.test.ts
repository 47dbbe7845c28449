import { describe, expect, it } from 'vitest';
import {
  parseAccount,
  parseBarsPage,
  parseCalendar,
  parseClock,
  parseLatestTrade,
  parseLatestTrades,
  parseOrder,
  parsePortfolioHistory,
  parsePosition,
  toUtcIso,
} from './wire.js';

const account = {
  id: '1d9eed04-be39-4e01-9b84-a48ac5bbafcf',
  account_number: 'PA123',
  status: 'ACTIVE',
  currency: 'USD',
  cash: '122086.5',
  equity: '123346.11',
  buying_power: '245432.61',
  last_equity: '122011.09751111286868',
  long_market_value: '1259.61',
  short_market_value: '0',
  multiplier: '2',
  shorting_enabled: true,
  trading_blocked: false,
  account_blocked: false,
  pattern_day_trader: false,
  daytrade_count: 0,
  daytrading_buying_power: '0',
  bod_dtbp: 0,
};

describe('wire: what Alpaca sends', () => {
  it('reads an account with fields added and the deprecated PDT fields gone', () => {
    const { pattern_day_trader: _a, daytrade_count: _b, daytrading_buying_power: _c, ...withoutPdt } = account;
    const a = parseAccount({ ...withoutPdt, some_new_field: { nested: true } });
    expect(a).toMatchObject({ cash: 122086.5, equity: 123346.11, buyingPower: 245432.61, patternDayTrader: null, daytradeCount: null });
    expect(a.raw.some_new_field).toEqual({ nested: true });
    expect(parseAccount(account).patternDayTrader).toBe(false);
  });

  it('refuses an account without cash (a field we act on)', () => {
    const { cash: _cash, ...noCash } = account;
    expect(() => parseAccount(noCash)).toThrow(/cash/);
  });

  it('reads a short position with a signed quantity and market value', () => {
    const p = parsePosition({
      symbol: 'TLT',
      side: 'short',
      qty: '-12',
      avg_entry_price: '90.5',
      market_value: '-1080',
      current_price: '90',
    });
    expect(p).toMatchObject({ qty: -12, side: 'short', marketValue: -1080, avgEntryPrice: 90.5, costBasis: null });
  });

  it('reads an order with the deprecated order_type only, and nanosecond timestamps', () => {
    const o = parseOrder({
      id: '7b08df51-c1ac-453c-99f9-323a5f075f0d',
      client_order_id: 'lt-1',
      symbol: 'SPY',
      side: 'buy',
      order_type: 'market',
      time_in_force: 'opg',
      status: 'filled',
      qty: '3',
      notional: null,
      filled_qty: '3',
      filled_avg_price: '412.25',
      filled_at: '2024-03-06T09:30:00.123456789-05:00',
    });
    expect(o).toMatchObject({
      type: 'market',
      qty: 3,
      filledQty: 3,
      filledAvgPrice: 412.25,
      final: true,
      filledAt: '2024-03-06T14:30:00.123Z',
    });
  });

  it('reads clock instants and calendar wall times', () => {
    expect(
      parseClock({
        timestamp: '2025-06-24T14:15:22-04:00',
        is_open: true,
        next_open: '2025-06-25T09:30:00-04:00',
        next_close: '2025-06-24T16:00:00-04:00',
      }),
    ).toMatchObject({
      timestamp: '2025-06-24T18:15:22.000Z',
      nextOpen: '2025-06-25T13:30:00.000Z',
    });
    expect(
      parseCalendar([
        { date: '2024-11-29', open: '09:30', close: '13:00', session_open: '0400', session_close: '1700', settlement_date: '2024-12-02' },
      ]),
    ).toEqual([
      {
        date: '2024-11-29',
        open: '09:30',
        close: '13:00',
        openAt: '2024-11-29T14:30:00.000Z',
        closeAt: '2024-11-29T18:00:00.000Z',
        sessionOpen: '04:00',
        sessionClose: '17:00',
        settlementDate: '2024-12-02',
      },
    ]);
    expect(() => parseCalendar([{ date: '2024-11-29', open: '9:30', close: '16:00' }])).toThrow(/time of day/);
  });

  it('reads a page of bars (numbers on the market-data API) and its token', () => {
    const page = parseBarsPage({
      bars: { SPY: [{ t: '2024-01-02T05:00:00Z', o: 1, h: 2, l: 0.5, c: 1.5, v: 100, n: 3, vw: 1.2 }] },
      next_page_token: null,
    });
    expect(page.nextPageToken).toBeNull();
    expect(page.bars.SPY).toEqual([
      { timestamp: '2024-01-02T05:00:00.000Z', open: 1, high: 2, low: 0.5, close: 1.5, volume: 100, tradeCount: 3, vwap: 1.2 },
    ]);
  });

  it('reads the latest trade of one symbol and of several (the spec examples), into the same shape', () => {
    const trade = { c: ['@', 'F', 'T'], i: 826, p: 172.78, s: 100, t: '2022-08-17T09:50:43.361102308Z', x: 'Q', z: 'C' };
    const one = parseLatestTrade({ symbol: 'AAPL', trade });
    expect(one).toEqual({ symbol: 'AAPL', timestamp: '2022-08-17T09:50:43.361Z', price: 172.78, size: 100, exchange: 'Q' });
    expect(parseLatestTrades({ trades: { AAPL: trade, TSLA: { ...trade, p: 911.99, x: undefined } } })).toEqual({
      AAPL: one,
      TSLA: { ...one, symbol: 'TSLA', price: 911.99, exchange: null },
    });
    expect(parseLatestTrades({ trades: {} })).toEqual({});
    expect(() => parseLatestTrades({ trades: { AAPL: { ...trade, p: 'n/a' } } })).toThrow();
    expect(() => parseLatestTrades({ trade })).toThrow();
  });

  it('normalises RFC 3339 timestamps to UTC and refuses anything else', () => {
    expect(toUtcIso('2022-01-03T09:00:00Z')).toBe('2022-01-03T09:00:00.000Z');
    expect(toUtcIso('2024-01-02')).toBeNull();
  });

  it("reads an account's daily equity (portfolio history): left-labelled windows, days without a value left out", () => {
    const history = {
      timestamp: [1709614800, 1709701200, 1709787600],
      equity: [100000, null, 101234.5],
      profit_loss: [0, null, 1234.5],
      profit_loss_pct: [0, null, 0.012345],
      base_value: 100000,
      base_value_asof: '2024-03-04',
      timeframe: '1D',
    };
    expect(parsePortfolioHistory(history)).toEqual([
      { at: '2024-03-05T05:00:00.000Z', equity: 100000 },
      { at: '2024-03-07T05:00:00.000Z', equity: 101234.5 },
    ]);
    expect(() => parsePortfolioHistory({ ...history, equity: [1] })).toThrow(/1 equity values for 3 timestamps/);
  });
});
