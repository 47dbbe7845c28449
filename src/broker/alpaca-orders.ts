/**
 * What an Alpaca order means to both Alpaca broker adapters (one paper account per account,
 * alpaca-broker.ts; six sub-ledgers of one paper account, alpaca-subledger-broker.ts): its time in
 * force from the checkpoint and Alpaca's clock, its status for the ledger, which failures are the
 * account's rather than the order's, and the wait for orders to be final.
 */
import { SESSION_OPEN, utcToEt } from '../market/calendar.js';
import type { OrderResult } from '../ports/broker.js';
import {
  AlpacaAuthError,
  AlpacaConfigError,
  AlpacaError,
  AlpacaOrderValidationError,
  AlpacaProtocolError,
  AlpacaUnavailableError,
} from './alpaca/errors.js';
import type { AlpacaClock, AlpacaOrder } from './alpaca/wire.js';

export type AlpacaTiming = 'opg' | 'cls' | 'day';

/** The checkpoint at which Alpaca's closing auction takes market-on-close orders (NYSE cut-off 15:50). */
export const CLOSE_AUCTION_FROM = '15:50';

/**
 * The time in force of an order from its checkpoint: the weekly execution and checkpoints before the
 * open go to the opening auction (opg), 15:50 and later to the closing auction (cls), anything during
 * the session is a day market order.
 */
export function timeInForceOf(checkpoint: string): AlpacaTiming {
  if (checkpoint === 'weekly') return 'opg';
  const m = /[T ](\d{2}):?(\d{2})$/.exec(checkpoint.trim());
  if (!m) return 'day';
  const time = `${m[1]}:${m[2]}`;
  if (time < SESSION_OPEN) return 'opg';
  if (time >= CLOSE_AUCTION_FROM) return 'cls';
  return 'day';
}

/** What Alpaca's order means for the ledger. */
interface Mapped {
  status: OrderResult['status'];
  reason: string | null;
}

export function mapAlpacaStatus(order: AlpacaOrder, requestedQty: number): Mapped {
  const filled = order.filledQty;
  switch (order.status) {
    case 'filled':
      return { status: 'filled', reason: null };
    case 'canceled':
    case 'expired':
    case 'done_for_day':
    case 'replaced':
      return filled > 0
        ? { status: 'filled', reason: `partially filled: ${filled} of ${requestedQty} shares, the rest ${order.status}` }
        : { status: 'canceled', reason: `${order.status} at Alpaca without a fill` };
    case 'rejected':
      return filled > 0
        ? { status: 'filled', reason: `partially filled: ${filled} of ${requestedQty} shares, the rest rejected` }
        : { status: 'rejected', reason: 'rejected by Alpaca' };
    default:
      return { status: 'accepted', reason: null };
  }
}

/** Why an Alpaca call failed, for an order result; anything that is not Alpaca's (the database) is rethrown. */
export function alpacaFailure(error: unknown): string {
  if (
    error instanceof AlpacaError ||
    error instanceof AlpacaConfigError ||
    error instanceof AlpacaOrderValidationError ||
    error instanceof AlpacaUnavailableError ||
    error instanceof AlpacaProtocolError
  )
    return error.message;
  throw error;
}

/** Failures that say nothing about the order itself (keys, reachability, a body we cannot read). */
export function isAccountFailure(error: unknown): boolean {
  return (
    error instanceof AlpacaAuthError ||
    error instanceof AlpacaConfigError ||
    error instanceof AlpacaUnavailableError ||
    error instanceof AlpacaProtocolError
  );
}

/**
 * When an order of `checkpoint` goes, given Alpaca's clock: its time in force, or why nothing is sent.
 * Nothing is sent into a closed market unless it is meant for the next open (opg); an opg order whose
 * open has passed (the market is open) goes as a day market order, which fills at once. `who` names
 * the account(s) in the refusal.
 */
export function orderTiming(clock: AlpacaClock, checkpoint: string, who: string): { tif: AlpacaTiming } | { refused: string } {
  let tif = timeInForceOf(checkpoint);
  const nextOpenDate = utcToEt(new Date(clock.nextOpen)).date;
  const labelDate = /^(\d{4}-\d{2}-\d{2})/.exec(checkpoint)?.[1];
  if (tif === 'opg' && clock.isOpen) tif = 'day';
  else if (tif === 'opg' && labelDate !== undefined && labelDate !== nextOpenDate)
    return { refused: `market closed: the next open is ${nextOpenDate}, not ${labelDate} (${who})` };
  if (!clock.isOpen && tif !== 'opg')
    return {
      refused: `market closed (Alpaca clock ${clock.timestamp}, next open ${clock.nextOpen}): a ${tif} order for ${who} is not sent`,
    };
  return { tif };
}

/** Whether an order refusal is about the order (recorded rejected) rather than the keys (not recorded). */
export function isOrderRefusal(error: unknown): error is AlpacaError | AlpacaOrderValidationError {
  return error instanceof AlpacaOrderValidationError || (error instanceof AlpacaError && !(error instanceof AlpacaAuthError));
}

/** How long the Alpaca brokers wait for orders, and how (tests shorten the waits). */
export interface AlpacaWaitOptions {
  /** How long a day order is waited for until it is final (default 60 s). */
  orderWaitMs?: number;
  /** How long awaitOrders waits for auction orders to be final (default 2 h: from before the open to after it). */
  fillTimeoutMs?: number;
  /** Between two looks at an open order (default 2 s). */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type AlpacaWaits = Required<AlpacaWaitOptions>;

export function alpacaWaits(options: AlpacaWaitOptions): AlpacaWaits {
  return {
    orderWaitMs: options.orderWaitMs ?? 60_000,
    fillTimeoutMs: options.fillTimeoutMs ?? 2 * 3600_000,
    pollMs: options.pollMs ?? 2000,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    now: options.now ?? Date.now,
  };
}

export interface AwaitSettings {
  timeoutMs: number;
  pollMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Looks at each order (through `look`, which records what it finds) until none is 'accepted' or the
 * deadline passes; the orders as they are then, in the order asked (unknown ids left out).
 */
export async function awaitFinal(
  clientOrderIds: readonly string[],
  look: (clientOrderId: string) => Promise<OrderResult | null>,
  settings: AwaitSettings,
): Promise<OrderResult[]> {
  const deadline = settings.now() + settings.timeoutMs;
  const results = new Map<string, OrderResult>();
  let open = [...new Set(clientOrderIds)];
  for (;;) {
    const still: string[] = [];
    for (const id of open) {
      const result = await look(id);
      if (!result) continue;
      results.set(id, result);
      if (result.status === 'accepted') still.push(id);
    }
    open = still;
    if (open.length === 0 || settings.now() >= deadline) break;
    await settings.sleep(Math.min(settings.pollMs, Math.max(0, deadline - settings.now())));
  }
  return clientOrderIds.flatMap((id) => {
    const r = results.get(id);
    return r ? [r] : [];
  });
}
