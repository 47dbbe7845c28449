import { describe, expect, it } from 'vitest';
import { checkpointSlug, clientOrderId, planOrders, type PlanInput } from './order-plan.js';

const base = { weekId: '2024-03-06', accountId: 3, checkpoint: 'weekly' } as const;
const plan = (input: Pick<PlanInput, 'positions' | 'target'> & Partial<PlanInput>) => planOrders({ ...base, ...input });
/** The fields that matter, in order. */
const brief = (input: Parameters<typeof plan>[0]) =>
  plan(input).map((o) => ({ id: o.clientOrderId, action: o.action, ticker: o.ticker, side: o.side, qty: o.qty }));

describe('planOrders', () => {
  it('opens a long from flat', () => {
    expect(brief({ positions: [], target: { ticker: 'SPY', qty: 120 } })).toEqual([
      { id: 'lt-2024-03-06-a3-weekly-open-SPY', action: 'open-SPY', ticker: 'SPY', side: 'buy', qty: 120 },
    ]);
  });

  it('opens a short from flat with a sell', () => {
    expect(brief({ positions: [], target: { ticker: 'TLT', qty: -80 } })).toMatchObject([{ action: 'open-TLT', side: 'sell', qty: 80 }]);
  });

  it('does nothing when already at target', () => {
    expect(plan({ positions: [{ ticker: 'SPY', qty: 120 }], target: { ticker: 'SPY', qty: 120 } })).toEqual([]);
    expect(plan({ positions: [], target: null })).toEqual([]);
  });

  it('adds to and reduces a position by the difference', () => {
    expect(brief({ positions: [{ ticker: 'SPY', qty: 100 }], target: { ticker: 'SPY', qty: 130 } })).toMatchObject([
      { action: 'add-SPY', side: 'buy', qty: 30 },
    ]);
    expect(brief({ positions: [{ ticker: 'SPY', qty: 100 }], target: { ticker: 'SPY', qty: 40 } })).toMatchObject([
      { action: 'reduce-SPY', side: 'sell', qty: 60 },
    ]);
    expect(brief({ positions: [{ ticker: 'TLT', qty: -100 }], target: { ticker: 'TLT', qty: -40 } })).toMatchObject([
      { action: 'reduce-TLT', side: 'buy', qty: 60 },
    ]);
    expect(brief({ positions: [{ ticker: 'TLT', qty: -100 }], target: { ticker: 'TLT', qty: -150 } })).toMatchObject([
      { action: 'add-TLT', side: 'sell', qty: 50 },
    ]);
  });

  it('flips with a close then an open', () => {
    expect(brief({ positions: [{ ticker: 'GLD', qty: 50 }], target: { ticker: 'GLD', qty: -30 } })).toEqual([
      { id: 'lt-2024-03-06-a3-weekly-close-GLD', action: 'close-GLD', ticker: 'GLD', side: 'sell', qty: 50 },
      { id: 'lt-2024-03-06-a3-weekly-open-GLD', action: 'open-GLD', ticker: 'GLD', side: 'sell', qty: 30 },
    ]);
    expect(brief({ positions: [{ ticker: 'GLD', qty: -30 }], target: { ticker: 'GLD', qty: 20 } })).toMatchObject([
      { action: 'close-GLD', side: 'buy', qty: 30 },
      { action: 'open-GLD', side: 'buy', qty: 20 },
    ]);
  });

  it('switches instrument: closes the old one before opening the new one', () => {
    const orders = brief({ positions: [{ ticker: 'SPY', qty: 120 }], target: { ticker: 'TLT', qty: 300 } });
    expect(orders).toMatchObject([
      { action: 'close-SPY', side: 'sell', qty: 120 },
      { action: 'open-TLT', side: 'buy', qty: 300 },
    ]);
  });

  it('puts every risk-reducing order before any risk-adding one', () => {
    const orders = brief({
      positions: [
        { ticker: 'USO', qty: -10 },
        { ticker: 'QQQ', qty: 5 },
        { ticker: 'SPY', qty: 10 },
      ],
      target: { ticker: 'SPY', qty: 20 },
    });
    expect(orders.map((o) => o.action)).toEqual(['close-QQQ', 'close-USO', 'add-SPY']);
  });

  it('closes everything for a FLAT target (null or zero quantity)', () => {
    const positions = [
      { ticker: 'SPY', qty: 12.5 },
      { ticker: 'TLT', qty: -40 },
    ];
    const expected = [
      { action: 'close-SPY', side: 'sell', qty: 12.5 },
      { action: 'close-TLT', side: 'buy', qty: 40 },
    ];
    expect(brief({ positions, target: null })).toMatchObject(expected);
    expect(brief({ positions, target: { ticker: 'SPY', qty: 0 } })).toMatchObject(expected);
  });

  it('fills in the order fields the broker needs', () => {
    const [o] = planOrders({ ...base, checkpoint: '2024-03-07T09:00', positions: [], target: { ticker: 'IEF', qty: 10 } });
    expect(o).toEqual({
      clientOrderId: 'lt-2024-03-06-a3-2024-03-07T0900-open-IEF',
      accountId: 3,
      weekId: '2024-03-06',
      checkpoint: '2024-03-07T09:00',
      action: 'open-IEF',
      ticker: 'IEF',
      side: 'buy',
      qty: 10,
      type: 'market',
    });
  });
});

describe('client order ids', () => {
  it('are deterministic: the same plan twice gives the same ids', () => {
    const input = { positions: [{ ticker: 'SPY', qty: 3 }], target: { ticker: 'GLD', qty: -7 } };
    expect(plan(input).map((o) => o.clientOrderId)).toEqual(plan(input).map((o) => o.clientOrderId));
  });

  it('differ by week, account, checkpoint and action', () => {
    const ids = [
      clientOrderId('2024-03-06', 1, 'weekly', 'open-SPY'),
      clientOrderId('2024-03-13', 1, 'weekly', 'open-SPY'),
      clientOrderId('2024-03-06', 2, 'weekly', 'open-SPY'),
      clientOrderId('2024-03-06', 1, '2024-03-07T09:00', 'open-SPY'),
      clientOrderId('2024-03-06', 1, '2024-03-07T12:00', 'open-SPY'),
      clientOrderId('2024-03-06', 1, 'weekly', 'close-SPY'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('slug checkpoints to [A-Za-z0-9-]', () => {
    expect(checkpointSlug('weekly')).toBe('weekly');
    expect(checkpointSlug('2024-03-07T09:00')).toBe('2024-03-07T0900');
    expect(checkpointSlug('2024-03-07 15:50')).toBe('2024-03-07T1550');
    const odd = checkpointSlug('after close / re-run');
    expect(odd).toMatch(/^after-close-re-run-[0-9a-f]{10}$/);
    // Two texts that clean to the same letters still get different slugs.
    expect(checkpointSlug('a b')).not.toBe(checkpointSlug('a_b'));
    expect(checkpointSlug('a b')).not.toBe('a-b');
    expect(() => checkpointSlug('  ')).toThrow(/empty/);
  });

  it('stay within 128 safe characters however long the parts are', () => {
    const long = clientOrderId('2024-03-06', 6, 'x'.repeat(200), 'open-SPY');
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toMatch(/^[A-Za-z0-9-]+$/);
    expect(clientOrderId('2024-03-06', 6, 'x'.repeat(200), 'open-SPY')).toBe(long);
    expect(clientOrderId('2024-03-06', 6, 'x'.repeat(200), 'open-QQQ')).not.toBe(long);
  });
});
