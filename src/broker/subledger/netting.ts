/**
 * Sub-ledger mode, step one: the orders of one execution (every account's, one checkpoint) become one
 * order per ticker at Alpaca. Pure: no I/O.
 *
 * - Members: the account orders of one ticker at one checkpoint. Their signed sum (buys +, sells −) is
 *   the net; a net of zero sends nothing (the members cross each other, alpaca-subledger-broker.ts).
 * - The net order's client_order_id is derived from its members' ids (sorted, hashed), so a re-run that
 *   plans the same orders finds the same net order at Alpaca and never sends it twice:
 *   `lt-<tag>-<week>-n-<checkpoint>-<ticker>-<hash>` (≤ 64 characters; Alpaca allows 128).
 * - Legs: a net order that would take Alpaca's position through zero (long 10, net sell 15) is sent as
 *   two orders, `<id>-c` closing what Alpaca holds and `<id>-o` opening the rest: Alpaca refuses a sell
 *   larger than a long position ("insufficient qty available", 403), and a sell that opens a short must
 *   say so (short, whole shares; order-request.ts). A buy through zero is split the same way, so each
 *   leg is either a pure close or a pure open.
 */
import { createHash } from 'node:crypto';
import type { OrderRequest, Side } from '../../ports/broker.js';
import { roundQty } from '../money.js';
import { checkpointSlug } from '../order-plan.js';

export interface NetGroup {
  ticker: string;
  weekId: string;
  checkpoint: string;
  /** The account orders, in the order they were given. */
  members: OrderRequest[];
  /** Signed sum of the members' quantities (buys +, sells −). */
  net: number;
}

export interface Leg {
  clientOrderId: string;
  side: Side;
  qty: number;
  /** The sell opens or adds to a short (whole shares). */
  short: boolean;
}

const signed = (r: Pick<OrderRequest, 'side' | 'qty'>): number => (r.side === 'buy' ? r.qty : -r.qty);

/** One group per (checkpoint, ticker), in the order each first appears. */
export function groupByTicker(requests: readonly OrderRequest[]): NetGroup[] {
  const groups = new Map<string, NetGroup>();
  for (const r of requests) {
    const key = `${r.weekId}|${r.checkpoint}|${r.ticker}`;
    const group = groups.get(key) ?? { ticker: r.ticker, weekId: r.weekId, checkpoint: r.checkpoint, members: [], net: 0 };
    group.members.push(r);
    group.net = roundQty(group.net + signed(r));
    groups.set(key, group);
  }
  return [...groups.values()];
}

export function netOrderId(portfolioTag: string, group: Pick<NetGroup, 'weekId' | 'checkpoint' | 'ticker' | 'members'>): string {
  const ids = group.members.map((m) => m.clientOrderId).sort();
  const hash = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 12);
  const ticker = group.ticker.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 12);
  return `lt-${portfolioTag}-${group.weekId.replaceAll('-', '')}-n-${checkpointSlug(group.checkpoint)}-${ticker}-${hash}`;
}

/** The Alpaca orders that carry a net of `net` shares when Alpaca holds `held` (both signed). */
export function legsOf(netId: string, net: number, held: number): Leg[] {
  if (net === 0) return [];
  const side: Side = net > 0 ? 'buy' : 'sell';
  const qty = Math.abs(net);
  const opposite = side === 'buy' ? held < 0 : held > 0;
  const closable = opposite ? Math.abs(held) : 0;
  if (opposite && qty > closable + 1e-9)
    return [
      { clientOrderId: `${netId}-c`, side, qty: closable, short: false },
      { clientOrderId: `${netId}-o`, side, qty: roundQty(qty - closable), short: side === 'sell' },
    ];
  // A sell covered by a long position closes; any other sell opens or adds to a short.
  return [{ clientOrderId: netId, side, qty, short: side === 'sell' && !opposite }];
}
