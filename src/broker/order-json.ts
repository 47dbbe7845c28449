/**
 * Orders and positions as every `--json` result shows them: snake_case, like the rest of the DESIGN §2
 * contracts (the broker port's own types are camelCase TypeScript). One mapping, used wherever a
 * result is built (weekly, checkpoint, accounts), so they cannot drift apart.
 */
import type { OrderRequest, OrderResult, OrderStatus, Position, Side } from '../ports/broker.js';

export interface OrderJson {
  client_order_id: string;
  account_id: number;
  ticker: string;
  side: Side;
  qty: number;
  status: OrderStatus;
  filled_qty: number;
  filled_avg_price: number | null;
  commission: number;
  /** ISO-8601 UTC. */
  submitted_at: string;
  filled_at: string | null;
  reject_reason: string | null;
  /** This client_order_id had been submitted before, and the earlier order is what is shown. */
  duplicate: boolean;
  /** The fill price came from a modelled (not a printed) price. */
  approximate_price: boolean;
}

/** An order not placed yet (a week waiting for the open), with the id it will be placed under. */
export interface OrderRequestJson {
  client_order_id: string;
  account_id: number;
  week_id: string;
  checkpoint: string;
  action: string;
  ticker: string;
  side: Side;
  qty: number;
  type: 'market';
}

export interface PositionJson {
  ticker: string;
  /** Signed: negative for a short. */
  qty: number;
  avg_entry_price: number;
  market_price: number;
  market_value: number;
  unrealized_pnl: number;
}

export function orderJson(o: OrderResult): OrderJson {
  return {
    client_order_id: o.clientOrderId,
    account_id: o.accountId,
    ticker: o.ticker,
    side: o.side,
    qty: o.qty,
    status: o.status,
    filled_qty: o.filledQty,
    filled_avg_price: o.filledAvgPrice,
    commission: o.commission,
    submitted_at: o.submittedAt,
    filled_at: o.filledAt,
    reject_reason: o.rejectReason,
    duplicate: o.duplicate,
    approximate_price: o.approximatePrice,
  };
}

export function positionJson(p: Position): PositionJson {
  return {
    ticker: p.ticker,
    qty: p.qty,
    avg_entry_price: p.avgEntryPrice,
    market_price: p.marketPrice,
    market_value: p.marketValue,
    unrealized_pnl: p.unrealizedPnl,
  };
}

export function orderRequestJson(o: OrderRequest): OrderRequestJson {
  return {
    client_order_id: o.clientOrderId,
    account_id: o.accountId,
    week_id: o.weekId,
    checkpoint: o.checkpoint,
    action: o.action,
    ticker: o.ticker,
    side: o.side,
    qty: o.qty,
    type: o.type,
  };
}
