import { describe, expect, it } from 'vitest';
import { AlpacaOrderValidationError } from './errors.js';
import { orderBody, type SubmitOrderInput } from './order-request.js';

const base = { symbol: 'SPY', type: 'market', time_in_force: 'day', client_order_id: 'lt-1' } as const;

function refusal(input: SubmitOrderInput): string {
  try {
    orderBody(input);
  } catch (error) {
    expect(error).toBeInstanceOf(AlpacaOrderValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('orderBody: what POST /v2/orders gets', () => {
  it('sends decimals as strings', () => {
    expect(orderBody({ ...base, side: 'buy', qty: 10 })).toEqual({
      symbol: 'SPY',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      client_order_id: 'lt-1',
      qty: '10',
    });
    expect(orderBody({ ...base, side: 'buy', notional: 1500.25 }).notional).toBe('1500.25');
    expect(orderBody({ ...base, side: 'sell', qty: 2.5, short: false }).qty).toBe('2.5');
    expect(orderBody({ ...base, type: 'limit', limit_price: 412.3, side: 'buy', qty: 1 }).limit_price).toBe('412.3');
    expect(orderBody({ ...base, time_in_force: 'opg', side: 'sell', qty: 7, short: true }).time_in_force).toBe('opg');
  });

  it('refuses a fractional short: Alpaca refuses fractional short sales', () => {
    expect(refusal({ ...base, side: 'sell', qty: 2.5, short: true })).toMatch(/short sale must be whole shares/);
  });

  it('makes the caller say what a sell does', () => {
    expect(refusal({ ...base, side: 'sell', qty: 2 } as unknown as SubmitOrderInput)).toMatch(/short: true.*short: false/);
  });

  it('keeps notional to market day buys, and fractions to day orders', () => {
    expect(refusal({ ...base, side: 'sell', notional: 100, short: false } as unknown as SubmitOrderInput)).toMatch(/buys only/);
    expect(refusal({ ...base, time_in_force: 'opg', side: 'buy', notional: 100 })).toMatch(/market order with time_in_force day/);
    expect(refusal({ ...base, type: 'limit', limit_price: 10, side: 'buy', notional: 100 })).toMatch(/market order with time_in_force day/);
    expect(refusal({ ...base, time_in_force: 'cls', side: 'buy', qty: 1.5 })).toMatch(/fractional qty .* day, not cls/);
    expect(refusal({ ...base, time_in_force: 'gtc', side: 'sell', qty: 0.5, short: false })).toMatch(/day, not gtc/);
    expect(refusal({ ...base, side: 'buy', notional: 10.005 })).toMatch(/fractions of a cent/);
  });

  it('wants exactly one of qty and notional, positive', () => {
    expect(refusal({ ...base, side: 'buy' })).toMatch(/exactly one of qty and notional/);
    expect(refusal({ ...base, side: 'buy', qty: 1, notional: 10 })).toMatch(/exactly one/);
    expect(refusal({ ...base, side: 'buy', qty: 0 })).toMatch(/positive/);
    expect(refusal({ ...base, side: 'buy', qty: 0.0000000001 })).toMatch(/more than 9 decimals/);
  });

  it('checks limit prices and ids as Alpaca does', () => {
    expect(refusal({ ...base, type: 'limit', side: 'buy', qty: 1 })).toMatch(/needs a limit_price/);
    expect(refusal({ ...base, side: 'buy', qty: 1, limit_price: 10 })).toMatch(/market order takes no limit_price/);
    expect(refusal({ ...base, type: 'limit', limit_price: 10.001, side: 'buy', qty: 1 })).toMatch(/sub-penny/);
    expect(orderBody({ ...base, type: 'limit', limit_price: 0.1234, side: 'buy', qty: 1 }).limit_price).toBe('0.1234');
    expect(refusal({ ...base, client_order_id: 'x'.repeat(129), side: 'buy', qty: 1 })).toMatch(/client_order_id must be at most 128/);
    expect(refusal({ ...base, client_order_id: '', side: 'buy', qty: 1 })).toMatch(/no client_order_id|must not be empty/);
    expect(refusal({ ...base, symbol: 'spy', side: 'buy', qty: 1 })).toMatch(/symbol must be an upper-case ticker/);
  });
});
