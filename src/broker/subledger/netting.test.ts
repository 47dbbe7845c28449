import { describe, expect, it } from 'vitest';
import type { OrderRequest } from '../../ports/broker.js';
import { groupByTicker, legsOf, netOrderId } from './netting.js';

const order = (accountId: number, ticker: string, side: 'buy' | 'sell', qty: number): OrderRequest => ({
  clientOrderId: `lt-0123abcd-20240306-a${accountId}-w-0o${ticker}`,
  accountId,
  weekId: '2024-03-06',
  checkpoint: 'weekly',
  action: `open-${ticker}`,
  ticker,
  side,
  qty,
  type: 'market',
});

describe('netting', () => {
  it('groups one execution by ticker with the signed sum of its members', () => {
    const groups = groupByTicker([order(1, 'SPY', 'buy', 10), order(2, 'TLT', 'sell', 3), order(3, 'SPY', 'sell', 4)]);
    expect(groups.map((g) => [g.ticker, g.net, g.members.map((m) => m.accountId)])).toEqual([
      ['SPY', 6, [1, 3]],
      ['TLT', -3, [2]],
    ]);
  });

  it('derives the net order id from the members, whatever their order, within Alpaca’s 128 characters', () => {
    const [a] = groupByTicker([order(1, 'SPY', 'buy', 10), order(3, 'SPY', 'sell', 4)]);
    const [b] = groupByTicker([order(3, 'SPY', 'sell', 4), order(1, 'SPY', 'buy', 10)]);
    const [c] = groupByTicker([order(1, 'SPY', 'buy', 10)]);
    const id = netOrderId('0123abcd', a!);
    expect(id).toBe(netOrderId('0123abcd', b!));
    expect(id).not.toBe(netOrderId('0123abcd', c!));
    expect(id).toMatch(/^lt-0123abcd-20240306-n-w-SPY-[0-9a-f]{12}$/);
    expect(netOrderId('0123abcd', { ...a!, checkpoint: '2024-03-07T15:50', ticker: 'BRK.B' })).toMatch(/-n-202403071550-BRK-B-/);
  });

  it('sends one order, or a close and an open when the net goes through Alpaca’s position', () => {
    expect(legsOf('N', 6, 0)).toEqual([{ clientOrderId: 'N', side: 'buy', qty: 6, short: false }]);
    expect(legsOf('N', -6, 10)).toEqual([{ clientOrderId: 'N', side: 'sell', qty: 6, short: false }]);
    expect(legsOf('N', -6, 0)).toEqual([{ clientOrderId: 'N', side: 'sell', qty: 6, short: true }]);
    expect(legsOf('N', -15, 10)).toEqual([
      { clientOrderId: 'N-c', side: 'sell', qty: 10, short: false },
      { clientOrderId: 'N-o', side: 'sell', qty: 5, short: true },
    ]);
    expect(legsOf('N', 8, -5)).toEqual([
      { clientOrderId: 'N-c', side: 'buy', qty: 5, short: false },
      { clientOrderId: 'N-o', side: 'buy', qty: 3, short: false },
    ]);
    expect(legsOf('N', 0, 3)).toEqual([]);
  });
});
