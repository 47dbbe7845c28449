/**
 * From what an account holds to what it should hold: the market orders that get there.
 *
 * One instrument per account: every position in another ticker is closed ('close-<T>'). For the
 * target ticker:
 *   - same side or from/to zero → the difference: 'open-<T>' from zero, 'add-<T>' / 'reduce-<T>',
 *     'close-<T>' when the target is zero;
 *   - sign flip (long → short or back) → 'close-<T>' for the whole position, then 'open-<T>' for the
 *     new one, so a short is always opened from flat with whole shares;
 *   - already at target → nothing.
 * Orders that reduce risk (close, reduce) come before orders that add it (open, add), so the cash they
 * free is there when the buys fill.
 *
 * clientOrderId = `lt-${weekId}-a${accountId}-${checkpointSlug}-${action}`, deterministic, so a
 * re-run of the same checkpoint re-submits the same ids and the broker returns the earlier orders
 * instead of trading twice. It uses only [A-Za-z0-9-] and at most 128 characters (Alpaca's limit).
 * checkpointSlug: 'weekly', or '2024-03-07T0900' for a checkpoint '2024-03-07T09:00' / '2024-03-07 09:00';
 * any other text is cleaned to [A-Za-z0-9-] and, when cleaning changed it, suffixed with a hash of
 * the original so two different checkpoints can never share an id.
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { OrderRequest, Side } from '../ports/broker.js';
import { roundQty } from './money.js';

export interface PlanInput {
  weekId: string;
  accountId: number;
  /** 'weekly', or the checkpoint's date and time, e.g. '2024-03-07T09:00'. */
  checkpoint: string;
  /** Current positions, signed quantities. */
  positions: readonly { ticker: string; qty: number }[];
  /** Target holding (signed whole shares), or null to hold nothing. */
  target: { ticker: string; qty: number } | null;
}

const MAX_ID_LENGTH = 128;
const SAFE = /^[A-Za-z0-9-]+$/;
const CHECKPOINT_RE = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):?(\d{2})$/;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Replace characters outside [A-Za-z0-9-]; if anything changed, add a hash of the original. */
function clean(text: string): string {
  if (SAFE.test(text)) return text;
  const cleaned = text.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return cleaned === '' ? shortHash(text) : `${cleaned}-${shortHash(text)}`;
}

export function checkpointSlug(checkpoint: string): string {
  const trimmed = checkpoint.trim();
  if (trimmed === '') throw new RangeError('checkpoint must not be empty');
  const m = CHECKPOINT_RE.exec(trimmed);
  if (m) return `${m[1]}T${m[2]}${m[3]}`;
  return clean(trimmed);
}

export function clientOrderId(weekId: string, accountId: number, checkpoint: string, action: string): string {
  const id = `lt-${clean(weekId)}-a${accountId}-${checkpointSlug(checkpoint)}-${clean(action)}`;
  if (id.length <= MAX_ID_LENGTH) return id;
  // Keep a readable prefix and make the tail unique to the full id.
  const hash = shortHash(id);
  return `${id.slice(0, MAX_ID_LENGTH - hash.length - 1)}-${hash}`;
}

export function planOrders(input: PlanInput): OrderRequest[] {
  const { weekId, accountId, checkpoint } = input;
  if (!Number.isInteger(accountId)) throw new RangeError(`account id must be an integer, got ${accountId}`);
  const target = input.target && input.target.qty !== 0 ? input.target : null;
  if (target && !Number.isFinite(target.qty)) throw new RangeError(`target qty must be finite, got ${target.qty}`);

  const order = (action: string, ticker: string, side: Side, qty: number): OrderRequest => ({
    clientOrderId: clientOrderId(weekId, accountId, checkpoint, `${action}-${ticker}`),
    accountId,
    weekId,
    checkpoint,
    action: `${action}-${ticker}`,
    ticker,
    side,
    qty: roundQty(qty),
    type: 'market',
  });
  const sideToReduce = (held: number): Side => (held > 0 ? 'sell' : 'buy');
  const sideToGrow = (qty: number): Side => (qty > 0 ? 'buy' : 'sell');

  const reducing: OrderRequest[] = [];
  const increasing: OrderRequest[] = [];

  // Merge duplicate rows defensively; the broker keeps one row per ticker, but callers may not.
  const held = new Map<string, number>();
  for (const p of input.positions) held.set(p.ticker, roundQty((held.get(p.ticker) ?? 0) + p.qty));

  for (const [ticker, qty] of [...held].sort(([a], [b]) => a.localeCompare(b))) {
    if (qty === 0 || ticker === target?.ticker) continue;
    reducing.push(order('close', ticker, sideToReduce(qty), Math.abs(qty)));
  }

  if (target) {
    const current = held.get(target.ticker) ?? 0;
    const wanted = roundQty(target.qty);
    if (current === 0) {
      increasing.push(order('open', target.ticker, sideToGrow(wanted), Math.abs(wanted)));
    } else if (Math.sign(current) !== Math.sign(wanted)) {
      reducing.push(order('close', target.ticker, sideToReduce(current), Math.abs(current)));
      increasing.push(order('open', target.ticker, sideToGrow(wanted), Math.abs(wanted)));
    } else if (Math.abs(wanted) > Math.abs(current)) {
      increasing.push(order('add', target.ticker, sideToGrow(wanted), roundQty(Math.abs(wanted) - Math.abs(current))));
    } else if (Math.abs(wanted) < Math.abs(current)) {
      reducing.push(order('reduce', target.ticker, sideToReduce(current), roundQty(Math.abs(current) - Math.abs(wanted))));
    }
  }
  return [...reducing, ...increasing];
}
