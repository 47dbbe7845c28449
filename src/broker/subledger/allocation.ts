/**
 * Sub-ledger mode, step two: the net order's fill goes back to its members. Pure: no I/O.
 *
 * - Members on the net order's side share what was filled for that side: the shares the other side
 *   brought (crossed internally) plus the shares Alpaca filled. Each gets a pro rata share of it by its
 *   requested quantity, in whole shares, largest remainder first (ties: the member given first).
 *   A partial fill is shared the same way.
 * - Members on the other side (crossed internally) fill in full: their shares met a member's order
 *   on the net side, which Alpaca's fill completed.
 * - Alpaca filled nothing → nobody fills (the caller records every member as the net order ended).
 * - Net zero (no order at Alpaca) → everybody fills in full.
 * - What cannot be given in whole shares (a fractional fill at Alpaca) stays unallocated: `remainder`,
 *   which the caller states in the members' reasons and the reconciliation shows as a difference.
 */
import type { Side } from '../../ports/broker.js';
import { roundQty } from '../money.js';

export interface AllocationMember {
  clientOrderId: string;
  side: Side;
  /** Whole shares. */
  qty: number;
}

export interface Allocation {
  /** Shares each member fills, by client_order_id (every member, 0 included). */
  filled: Map<string, number>;
  /** Shares Alpaca filled that no member got (fractions of a share). */
  remainder: number;
}

/**
 * `netFilled`: the shares Alpaca filled of the net order (0 ≤ netFilled ≤ |net|), ignored when the
 * members net to zero.
 */
export function allocate(members: readonly AllocationMember[], netFilled: number): Allocation {
  const net = roundQty(members.reduce((sum, m) => sum + (m.side === 'buy' ? m.qty : -m.qty), 0));
  const filled = new Map(members.map((m) => [m.clientOrderId, 0]));
  if (net === 0) {
    for (const m of members) filled.set(m.clientOrderId, m.qty);
    return { filled, remainder: 0 };
  }
  if (!(netFilled > 0)) return { filled, remainder: 0 };
  const side: Side = net > 0 ? 'buy' : 'sell';
  const crossing = members.filter((m) => m.side !== side);
  const same = members.filter((m) => m.side === side);
  const crossed = crossing.reduce((sum, m) => sum + m.qty, 0);
  for (const m of crossing) filled.set(m.clientOrderId, m.qty);

  const wanted = same.reduce((sum, m) => sum + m.qty, 0);
  const supply = roundQty(crossed + Math.min(netFilled, Math.abs(net)));
  const whole = Math.floor(supply + 1e-9);
  const quotas = same.map((m, i) => {
    const quota = (whole * m.qty) / wanted;
    const base = Math.floor(quota + 1e-9);
    return { id: m.clientOrderId, base, fraction: quota - base, i, cap: m.qty };
  });
  let left = whole - quotas.reduce((sum, q) => sum + q.base, 0);
  const order = [...quotas].sort((a, b) => b.fraction - a.fraction || a.i - b.i);
  for (const q of order) {
    if (left <= 0) break;
    if (q.base < q.cap) {
      q.base += 1;
      left -= 1;
    }
  }
  for (const q of quotas) filled.set(q.id, q.base);
  return { filled, remainder: roundQty(supply - whole + left) };
}
