/**
 * From what an account holds to what it should hold: the market orders that get there, each with the
 * client_order_id that names its intent.
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
 * Order identity. client_order_id = lt-<tag>-<week>-a<account>-<checkpoint>-<n><leg>, for example
 * `lt-37a8eec1-20240306-a1-w-0oSPY` or `lt-37a8eec1-20240306-a1-202403071550-3cQQQ`:
 *   tag         8 hex characters of sha256(portfolio name) — ids never collide across portfolios;
 *   week        the week id without dashes;
 *   checkpoint  'w' for the weekly execution, else the checkpoint's date and time (YYYYMMDDHHMM);
 *   n           how many orders the account already has at this checkpoint of this week (sequence);
 *   leg         o|a|r|c (open, add, reduce, close) and the ticker.
 * A plan is made from the account's current position and the orders already recorded, so:
 *   - a re-run or a crash-restart that wants the same leg from the same state derives the same id, and
 *     the broker returns the earlier order instead of trading twice (an order sent but never recorded
 *     included: the broker knows the id);
 *   - once an order is recorded, filled or rejected, n moves on: a changed target (SPY → QQQ → SPY) or
 *     a retry after a rejection gets a new id and is really placed.
 * Ids use [A-Za-z0-9-] and are at most 48 characters (Alpaca allows 128); a longer one (an unusual
 * checkpoint label or ticker) keeps a readable prefix and ends in a hash of the whole.
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { OrderRequest, Side } from '../ports/broker.js';
import { roundQty } from './money.js';

export type LegAction = 'open' | 'add' | 'reduce' | 'close';

export interface PlanInput {
  /** portfolioTag(portfolio name), src/portfolio/portfolio.ts. */
  portfolioTag: string;
  weekId: string;
  accountId: number;
  /** 'weekly', or the checkpoint's date and time, e.g. '2024-03-07T09:00'. */
  checkpoint: string;
  /** Orders the account already has at this checkpoint of this week (any status). */
  sequence: number;
  /** Current positions, signed quantities (including quantities of orders still open at the broker). */
  positions: readonly { ticker: string; qty: number }[];
  /** Target holding (signed whole shares), or null to hold nothing. */
  target: { ticker: string; qty: number } | null;
}

export const MAX_CLIENT_ORDER_ID = 48;
const SAFE = /^[A-Za-z0-9-]+$/;
const CHECKPOINT_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):?(\d{2})$/;
const LEG_CODE: Record<LegAction, string> = { open: 'o', add: 'a', reduce: 'r', close: 'c' };

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
  if (trimmed === 'weekly') return 'w';
  const m = CHECKPOINT_RE.exec(trimmed);
  if (m) return `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}`;
  return clean(trimmed);
}

export interface OrderIdParts {
  portfolioTag: string;
  weekId: string;
  accountId: number;
  checkpoint: string;
  sequence: number;
  action: LegAction;
  ticker: string;
}

export function clientOrderId(parts: OrderIdParts): string {
  if (!/^[0-9a-f]{8}$/.test(parts.portfolioTag)) throw new RangeError(`invalid portfolio tag ${JSON.stringify(parts.portfolioTag)}`);
  if (!Number.isInteger(parts.sequence) || parts.sequence < 0) throw new RangeError(`invalid order sequence ${parts.sequence}`);
  const week = clean(parts.weekId.replaceAll('-', ''));
  const id = `lt-${parts.portfolioTag}-${week}-a${parts.accountId}-${checkpointSlug(parts.checkpoint)}-${parts.sequence}${LEG_CODE[parts.action]}${clean(parts.ticker)}`;
  if (id.length <= MAX_CLIENT_ORDER_ID) return id;
  const hash = shortHash(id);
  return `${id.slice(0, MAX_CLIENT_ORDER_ID - hash.length - 1)}-${hash}`;
}

export function planOrders(input: PlanInput): OrderRequest[] {
  const { weekId, accountId, checkpoint } = input;
  if (!Number.isInteger(accountId)) throw new RangeError(`account id must be an integer, got ${accountId}`);
  const target = input.target && input.target.qty !== 0 ? input.target : null;
  if (target && !Number.isFinite(target.qty)) throw new RangeError(`target qty must be finite, got ${target.qty}`);

  type Leg = { action: LegAction; ticker: string; side: Side; qty: number };
  const sideToReduce = (held: number): Side => (held > 0 ? 'sell' : 'buy');
  const sideToGrow = (qty: number): Side => (qty > 0 ? 'buy' : 'sell');

  const reducing: Leg[] = [];
  const increasing: Leg[] = [];

  // Merge duplicate rows defensively; the broker keeps one row per ticker, but callers may not.
  const held = new Map<string, number>();
  for (const p of input.positions) held.set(p.ticker, roundQty((held.get(p.ticker) ?? 0) + p.qty));

  for (const [ticker, qty] of [...held].sort(([a], [b]) => a.localeCompare(b))) {
    if (qty === 0 || ticker === target?.ticker) continue;
    reducing.push({ action: 'close', ticker, side: sideToReduce(qty), qty: Math.abs(qty) });
  }

  if (target) {
    const current = held.get(target.ticker) ?? 0;
    const wanted = roundQty(target.qty);
    const t = target.ticker;
    if (current === 0) {
      increasing.push({ action: 'open', ticker: t, side: sideToGrow(wanted), qty: Math.abs(wanted) });
    } else if (Math.sign(current) !== Math.sign(wanted)) {
      reducing.push({ action: 'close', ticker: t, side: sideToReduce(current), qty: Math.abs(current) });
      increasing.push({ action: 'open', ticker: t, side: sideToGrow(wanted), qty: Math.abs(wanted) });
    } else if (Math.abs(wanted) > Math.abs(current)) {
      increasing.push({ action: 'add', ticker: t, side: sideToGrow(wanted), qty: Math.abs(wanted) - Math.abs(current) });
    } else if (Math.abs(wanted) < Math.abs(current)) {
      reducing.push({ action: 'reduce', ticker: t, side: sideToReduce(current), qty: Math.abs(current) - Math.abs(wanted) });
    }
  }
  return [...reducing, ...increasing].map((leg, i) => ({
    sequence: input.sequence + i,
    clientOrderId: clientOrderId({
      portfolioTag: input.portfolioTag,
      weekId,
      accountId,
      checkpoint,
      sequence: input.sequence + i,
      action: leg.action,
      ticker: leg.ticker,
    }),
    accountId,
    weekId,
    checkpoint,
    action: `${leg.action}-${leg.ticker}`,
    ticker: leg.ticker,
    side: leg.side,
    qty: roundQty(leg.qty),
    type: 'market',
  }));
}
