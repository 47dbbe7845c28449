import { describe, expect, it } from 'vitest';
import { portfolioTag } from '../portfolio/portfolio.js';
import { checkpointSlug, clientOrderId, MAX_CLIENT_ORDER_ID, planOrders, type OrderIdParts, type PlanInput } from './order-plan.js';

const TAG = portfolioTag('default');
const base = { portfolioTag: TAG, weekId: '2024-03-06', accountId: 3, checkpoint: 'weekly', sequence: 0 } as const;
const plan = (input: Pick<PlanInput, 'positions' | 'target'> & Partial<PlanInput>) => planOrders({ ...base, ...input });
/** The fields that matter, in order. */
const brief = (input: Parameters<typeof plan>[0]) =>
  plan(input).map((o) => ({ id: o.clientOrderId, action: o.action, ticker: o.ticker, side: o.side, qty: o.qty }));

describe('planOrders', () => {
  it('opens a long from flat', () => {
    expect(brief({ positions: [], target: { ticker: 'SPY', qty: 120 } })).toEqual([
      { id: `lt-${TAG}-20240306-a3-w-0oSPY`, action: 'open-SPY', ticker: 'SPY', side: 'buy', qty: 120 },
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
      { id: `lt-${TAG}-20240306-a3-w-0cGLD`, action: 'close-GLD', ticker: 'GLD', side: 'sell', qty: 50 },
      { id: `lt-${TAG}-20240306-a3-w-1oGLD`, action: 'open-GLD', ticker: 'GLD', side: 'sell', qty: 30 },
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
    const [o] = planOrders({ ...base, checkpoint: '2024-03-07T09:00', sequence: 4, positions: [], target: { ticker: 'IEF', qty: 10 } });
    expect(o).toEqual({
      clientOrderId: `lt-${TAG}-20240306-a3-202403070900-4oIEF`,
      sequence: 4,
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

  const id = (parts: Partial<OrderIdParts> = {}) =>
    clientOrderId({
      portfolioTag: TAG,
      weekId: '2024-03-06',
      accountId: 1,
      checkpoint: 'weekly',
      sequence: 0,
      action: 'open',
      ticker: 'SPY',
      ...parts,
    });

  it('differ by portfolio, week, account, checkpoint, sequence and leg', () => {
    const ids = [
      id(),
      id({ portfolioTag: portfolioTag('backtest-1') }),
      id({ weekId: '2024-03-13' }),
      id({ accountId: 2 }),
      id({ checkpoint: '2024-03-07T09:00' }),
      id({ checkpoint: '2024-03-07T12:00' }),
      id({ sequence: 1 }),
      id({ action: 'close' }),
      id({ ticker: 'QQQ' }),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('number the legs of a plan from the account’s orders so far, so a re-plan from the same state gets the same ids', () => {
    const held = [{ ticker: 'SPY', qty: 100 }];
    const first = plan({ positions: held, target: { ticker: 'QQQ', qty: 50 }, sequence: 1 });
    expect(first.map((o) => [o.action, o.sequence])).toEqual([
      ['close-SPY', 1],
      ['open-QQQ', 2],
    ]);
    // Killed after the close was recorded: the resumed plan starts from flat and from 2 orders.
    const resumed = plan({ positions: [], target: { ticker: 'QQQ', qty: 50 }, sequence: 2 });
    expect(resumed.map((o) => o.clientOrderId)).toEqual([first[1]!.clientOrderId]);
  });

  it('slug checkpoints to [A-Za-z0-9-]', () => {
    expect(checkpointSlug('weekly')).toBe('w');
    expect(checkpointSlug('2024-03-07T09:00')).toBe('202403070900');
    expect(checkpointSlug('2024-03-07 15:50')).toBe('202403071550');
    const odd = checkpointSlug('after close / re-run');
    expect(odd).toMatch(/^after-close-re-run-[0-9a-f]{10}$/);
    // Two texts that clean to the same letters still get different slugs.
    expect(checkpointSlug('a b')).not.toBe(checkpointSlug('a_b'));
    expect(checkpointSlug('a b')).not.toBe('a-b');
    expect(() => checkpointSlug('  ')).toThrow(/empty/);
  });

  it('stay within 48 safe, printable characters however long the parts are', () => {
    // The longest ordinary id: a checkpoint, a two-digit sequence, a five-letter ticker, account 6.
    const ordinary = id({ checkpoint: '2024-03-07T15:50', sequence: 99, action: 'reduce', ticker: 'ABCDE', accountId: 6 });
    expect(ordinary).toBe(`lt-${TAG}-20240306-a6-202403071550-99rABCDE`);
    expect(ordinary.length).toBeLessThanOrEqual(MAX_CLIENT_ORDER_ID);
    const long = id({ checkpoint: 'x'.repeat(200) });
    expect(long.length).toBeLessThanOrEqual(48);
    expect(long).toMatch(/^[A-Za-z0-9-]+$/);
    expect(id({ checkpoint: 'x'.repeat(200) })).toBe(long);
    expect(id({ checkpoint: 'x'.repeat(200), ticker: 'QQQ' })).not.toBe(long);
  });

  it('refuse a malformed portfolio tag or sequence', () => {
    expect(() => id({ portfolioTag: 'default' })).toThrow(/portfolio tag/);
    expect(() => id({ sequence: -1 })).toThrow(/sequence/);
  });
});
