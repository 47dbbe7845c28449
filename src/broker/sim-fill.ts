/**
 * The simulated broker's fill rules as one pure function (the arithmetic and the money checks of the
 * header of sim-broker.ts): what a market order does to an account, from the account's cash and
 * positions, the quote and the marks of the other positions. The one-order path and the batch path of
 * SimulatedBroker both decide with it, so they cannot drift apart.
 */
import type { ModelsConfig } from '../config/app-config.js';
import type { PriceQuote } from '../market/types.js';
import type { OrderRequest } from '../ports/broker.js';
import { roundCash, roundPrice, roundQty } from './money.js';

/** A price to value a position with, and whether it is a real print at this instant. */
export interface Mark {
  price: number;
  approximate: boolean;
  source: string;
}

/** A position as the fill rules need it. */
export interface HeldRow {
  ticker: string;
  qty: number;
  avgEntryPrice: number;
}

export interface FillRules {
  execution: ModelsConfig['execution'];
  maxGrossLeverage: number;
  tolerance: number;
}

export interface FillInput {
  request: OrderRequest;
  quote: PriceQuote;
  /** The account's cash before the order. */
  cash: number;
  /** The account's positions before the order, in the order their values are summed. */
  held: readonly HeldRow[];
  /** The mark of a held ticker at the order's instant, or why there is none (a message). */
  markOf: (ticker: string) => Mark | string;
}

export interface Fill {
  qty: number;
  price: number;
  commission: number;
  notional: number;
  cashDelta: number;
  cashAfter: number;
  /** The traded ticker's position before and after (0: none). */
  q0: number;
  q1: number;
  /** The position's average entry price after the fill (unused when q1 is 0). */
  avgEntryPrice: number;
  /** Whether the account held a row for the ticker before (an update rather than an insert). */
  existed: boolean;
}

/** The fill the order gets, or the reason it is rejected. */
export function decideFill(rules: FillRules, input: FillInput): Fill | { rejected: string } {
  const { request, quote } = input;
  const before = input.held.find((p) => p.ticker === request.ticker);
  const { execution } = rules;

  const qty = roundQty(request.qty);
  const sign = request.side === 'buy' ? 1 : -1;
  const slip = execution.slippage_bps / 10_000;
  const price = roundPrice(quote.price * (1 + sign * slip));
  const commission = roundCash(Math.max(execution.min_commission, qty * execution.commission_per_share));
  const notional = roundCash(qty * price);
  const cashDelta = sign > 0 ? -(notional + commission) : notional - commission;
  const cashAfter = roundCash(input.cash + cashDelta);

  const q0 = before?.qty ?? 0;
  const q1 = roundQty(q0 + sign * qty);
  const increases = q1 !== 0 && (q0 === 0 || Math.sign(q1) !== Math.sign(q0) || Math.abs(q1) > Math.abs(q0));

  if (increases && q1 < 0 && (!Number.isInteger(qty) || !Number.isInteger(q1))) {
    return { rejected: `short sales must be whole shares: selling ${qty} ${request.ticker} from ${q0} would leave ${q1}` };
  }

  if (increases) {
    // Value the account after the trade; the traded ticker at the model price (before slippage).
    let gross = 0;
    let equityAfter = cashAfter;
    for (const p of input.held) {
      if (p.ticker === request.ticker) continue;
      const mark = input.markOf(p.ticker);
      if (typeof mark === 'string') return { rejected: `cannot value the ${p.ticker} position to check exposure: ${mark}` };
      gross += Math.abs(p.qty * mark.price);
      equityAfter += p.qty * mark.price;
    }
    gross += Math.abs(q1 * quote.price);
    equityAfter += q1 * quote.price;
    const slack = rules.tolerance * Math.max(equityAfter, 0);
    if (request.side === 'buy' && q1 > 0 && cashAfter < -slack) {
      return {
        rejected:
          `insufficient cash: buying ${qty} ${request.ticker} at ${price} costs ${roundCash(notional + commission)} ` +
          `with commission; cash is ${roundCash(input.cash)}`,
      };
    }
    if (equityAfter <= 0) {
      return { rejected: `account equity would be ${roundCash(equityAfter)}: no new exposure allowed` };
    }
    const limit = rules.maxGrossLeverage * equityAfter + slack;
    if (gross > limit) {
      return { rejected: `gross exposure ${roundCash(gross)} would exceed ${rules.maxGrossLeverage}× equity ${roundCash(equityAfter)}` };
    }
  }

  // Position: re-average on increase, keep on reduction, reset when crossing zero (deleted at zero).
  let avgEntryPrice: number;
  if (!before || q0 === 0) avgEntryPrice = price;
  else if (Math.sign(q1) !== Math.sign(q0)) avgEntryPrice = price;
  else if (Math.abs(q1) > Math.abs(q0)) avgEntryPrice = roundPrice((Math.abs(q0) * before.avgEntryPrice + qty * price) / Math.abs(q1));
  else avgEntryPrice = before.avgEntryPrice;
  return { qty, price, commission, notional, cashDelta, cashAfter, q0, q1, avgEntryPrice, existed: before !== undefined };
}
