import { describe, expect, it } from 'vitest';
import { allocate, type AllocationMember } from './allocation.js';

const m = (clientOrderId: string, side: 'buy' | 'sell', qty: number): AllocationMember => ({ clientOrderId, side, qty });
const shares = (a: ReturnType<typeof allocate>) => Object.fromEntries(a.filled);

describe('allocate', () => {
  it('a full fill gives every member its quantity, the crossing side included', () => {
    const members = [m('a', 'buy', 10), m('b', 'sell', 4), m('c', 'buy', 6)];
    expect(shares(allocate(members, 12))).toEqual({ a: 10, b: 4, c: 6 });
    expect(allocate(members, 12).remainder).toBe(0);
  });

  it('a partial fill is shared pro rata in whole shares, largest remainder first; the crossing side fills in full', () => {
    // Net buy 12 (10 + 6 − 4); Alpaca fills 5: the buyers share 4 crossed + 5 filled = 9 of their 16.
    const members = [m('a', 'buy', 10), m('b', 'sell', 4), m('c', 'buy', 6)];
    const a = allocate(members, 5);
    // 9 × 10/16 = 5.625, 9 × 6/16 = 3.375 → 5 + 3 = 8, the ninth share to the larger remainder (a).
    expect(shares(a)).toEqual({ a: 6, b: 4, c: 3 });
    expect(a.remainder).toBe(0);
  });

  it('equal remainders go to the member given first; a fractional fill leaves a stated remainder', () => {
    const members = [m('x', 'sell', 5), m('y', 'sell', 5)];
    expect(shares(allocate(members, 5))).toEqual({ x: 3, y: 2 });
    const fractional = allocate(members, 4.5);
    expect(shares(fractional)).toEqual({ x: 2, y: 2 });
    expect(fractional.remainder).toBe(0.5);
  });

  it('nothing filled → nobody fills; net zero → everybody fills (no order at Alpaca)', () => {
    expect(shares(allocate([m('a', 'buy', 3), m('b', 'buy', 2)], 0))).toEqual({ a: 0, b: 0 });
    expect(shares(allocate([m('long', 'buy', 7), m('short', 'sell', 7)], 0))).toEqual({ long: 7, short: 7 });
  });

  it('never gives a member more than it asked for, whatever the fill says', () => {
    const a = allocate([m('a', 'buy', 1), m('b', 'buy', 1), m('c', 'buy', 1)], 10);
    expect(shares(a)).toEqual({ a: 1, b: 1, c: 1 });
  });
});
