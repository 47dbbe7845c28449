/**
 * An order as we ask for it → the POST /v2/orders body Alpaca accepts, or a refusal before anything is
 * sent. Pure: no I/O.
 *
 * The caller says what a sell does: `short: true` when it opens or increases a short, `false` when it
 * only sells shares the account holds long. Alpaca refuses fractional short sales, so a short must be
 * whole shares; a sell that would cross from long to short is two orders (close, then open the short;
 * Alpaca answers 403 "insufficient qty available" to one that tries both), which is how
 * src/broker/order-plan.ts plans them. Notional (dollar) orders are for buys only: we size sells in
 * shares.
 *
 * Rules enforced here, each one Alpaca's (trading-api.json, POST /v2/orders, and Alpaca's docs):
 *   - `qty` xor `notional` — "notional: dollar amount to trade. Cannot work with qty" (spec); both → 400.
 *   - `notional` only with type market and time_in_force day — "Can only work for market order types
 *     and day for time in force" (spec).
 *   - a fractional `qty` only with time_in_force day — "qty … Can be fractionable for only market and
 *     day order types" (spec); Alpaca answers 422 "fractional orders must be DAY orders" otherwise, so
 *     fractional and notional orders can never be opg, cls or gtc.
 *   - quantities up to 9 decimals ("Can take up to 9 decimal points", Order.qty); notional in cents
 *     (ours: money is kept to the cent, src/broker/money.ts).
 *   - a short sale in whole shares — fractional orders cannot open a short (Fractional Trading docs,
 *     specs/alpaca/SOURCE.md; DESIGN §3).
 *   - `limit_price` required for limit orders and refused for market orders; at most 2 decimals at or
 *     above $1 and 4 below (Alpaca refuses "sub-penny increment does not fulfill minimum pricing
 *     criteria").
 *   - `client_order_id` of 1 to 128 characters (spec maxLength 128): every order we send has one, since
 *     it is what makes a resend harmless.
 *   - time_in_force day|opg|cls|gtc with type market|limit: opg/cls are market-on-open/-close (or
 *     limit-on-open/-close) orders ("Use this TIF with a market/limit order type", TimeInForce).
 */
import { z } from 'zod';
import { decimalsOf, isWhole, toDecimalString } from './decimal.js';
import { AlpacaOrderValidationError } from './errors.js';

export type TimeInForce = 'day' | 'opg' | 'cls' | 'gtc';
export type OrderType = 'market' | 'limit';

interface OrderInputBase {
  symbol: string;
  type: OrderType;
  time_in_force: TimeInForce;
  /** Required: derived from the intent (src/broker/order-plan.ts), it makes a resend harmless. */
  client_order_id: string;
  /** Required for limit orders, refused for market orders. */
  limit_price?: number;
}

export interface BuyOrderInput extends OrderInputBase {
  side: 'buy';
  /** Shares (up to 9 decimals; fractional only with time_in_force day). Exactly one of qty and notional. */
  qty?: number;
  /** Dollars (cents at most); market day orders only. */
  notional?: number;
}

export interface SellOrderInput extends OrderInputBase {
  side: 'sell';
  /** Shares; whole shares when `short` is true. */
  qty: number;
  /** True when this sell opens or increases a short position (whole shares only); false when it sells shares held long. */
  short: boolean;
}

export type SubmitOrderInput = BuyOrderInput | SellOrderInput;

/** The request body of POST /v2/orders, decimals as strings. */
export interface OrderBody {
  symbol: string;
  side: 'buy' | 'sell';
  type: OrderType;
  time_in_force: TimeInForce;
  client_order_id: string;
  qty?: string;
  notional?: string;
  limit_price?: string;
}

export const MAX_CLIENT_ORDER_ID_LENGTH = 128;
const QTY_DECIMALS = 9;
const NOTIONAL_DECIMALS = 2;

/** Runtime shape check for callers that are not TypeScript (or that built the input from data). */
const inputSchema = z.object({
  symbol: z.string().regex(/^[A-Z][A-Z0-9./-]{0,31}$/, 'must be an upper-case ticker such as SPY or BRK.B'),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['market', 'limit']),
  time_in_force: z.enum(['day', 'opg', 'cls', 'gtc']),
  client_order_id: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_CLIENT_ORDER_ID_LENGTH, `must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} characters`),
  qty: z.number().optional(),
  notional: z.number().optional(),
  limit_price: z.number().optional(),
  short: z.boolean().optional(),
});

/** The body to send for `input`, or AlpacaOrderValidationError naming the rule it breaks. */
export function orderBody(input: SubmitOrderInput): OrderBody {
  const id = typeof input.client_order_id === 'string' ? input.client_order_id : null;
  const refuse = (reason: string): never => {
    throw new AlpacaOrderValidationError(`order ${id ?? '(no client_order_id)'} refused before sending: ${reason}`, id);
  };
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    refuse(`${issue.path.join('.') || 'order'} ${issue.message}`);
  }
  const order = parsed.data!;
  const tif = order.time_in_force;

  if (order.side === 'sell' && order.short === undefined) {
    refuse('a sell must say whether it opens or increases a short (short: true) or sells shares held long (short: false)');
  }
  if (order.side === 'sell' && order.notional !== undefined) refuse('notional orders are for buys only: size a sell in shares (qty)');
  if ((order.qty === undefined) === (order.notional === undefined)) refuse('give exactly one of qty and notional');

  const body: OrderBody = {
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    time_in_force: tif,
    client_order_id: order.client_order_id,
  };

  if (order.qty !== undefined) {
    const qty = order.qty;
    if (!Number.isFinite(qty) || qty <= 0) refuse(`qty must be a positive number of shares, got ${qty}`);
    if (decimalsOf(qty) > QTY_DECIMALS) refuse(`qty ${qty} has more than ${QTY_DECIMALS} decimals`);
    const fractional = !isWhole(qty);
    if (fractional && order.short) refuse(`a short sale must be whole shares (Alpaca refuses fractional shorts), got qty ${qty}`);
    if (fractional && tif !== 'day') refuse(`a fractional qty (${qty}) is only accepted with time_in_force day, not ${tif}`);
    body.qty = toDecimalString(qty, QTY_DECIMALS, 'qty');
  } else {
    const notional = order.notional!;
    if (!Number.isFinite(notional) || notional <= 0) refuse(`notional must be a positive dollar amount, got ${notional}`);
    if (decimalsOf(notional) > NOTIONAL_DECIMALS) refuse(`notional ${notional} has fractions of a cent`);
    if (order.type !== 'market' || tif !== 'day') {
      refuse(`a notional order must be a market order with time_in_force day, not ${order.type}/${tif}`);
    }
    body.notional = toDecimalString(notional, NOTIONAL_DECIMALS, 'notional');
  }

  if (order.type === 'limit') {
    const price = order.limit_price;
    if (price === undefined) refuse('a limit order needs a limit_price');
    if (!Number.isFinite(price) || price! <= 0) refuse(`limit_price must be a positive price, got ${price}`);
    const maxDecimals = price! >= 1 ? 2 : 4;
    if (decimalsOf(price!) > maxDecimals) {
      refuse(`limit_price ${price} has sub-penny increments (at most ${maxDecimals} decimals ${price! >= 1 ? 'at or above' : 'below'} $1)`);
    }
    body.limit_price = toDecimalString(price!, maxDecimals, 'limit_price');
  } else if (order.limit_price !== undefined) {
    refuse('a market order takes no limit_price');
  }
  return body;
}
