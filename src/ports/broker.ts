/**
 * Orders, positions and accounts of one portfolio. Adapters: the simulated broker (in the DB), Alpaca
 * paper (src/broker/alpaca-broker.ts). Every adapter records the orders it was sent and their fills in the ledger tables
 * (orders, fills) with an 'order:<client_order_id>' event, in one transaction with the order's state.
 */

export type Side = 'buy' | 'sell';

export interface OrderRequest {
  /** Derived from the intent (src/broker/order-plan.ts): a re-submit with the same id never doubles an order. */
  clientOrderId: string;
  /** The order's place among the account's orders at this checkpoint of this week (part of the id). */
  sequence?: number;
  accountId: number;
  weekId: string;
  /** 'weekly' for the Wednesday execution, or the checkpoint time 'HH:MM' with its date. */
  checkpoint: string;
  /** What the order does, e.g. 'open-SPY', 'close-TLT', 'reduce-GLD'. */
  action: string;
  ticker: string;
  side: Side;
  /** Positive share quantity, rounded by the caller (whole shares). */
  qty: number;
  type: 'market';
}

export type OrderStatus = 'filled' | 'accepted' | 'rejected' | 'canceled';

export interface OrderResult {
  clientOrderId: string;
  accountId: number;
  ticker: string;
  side: Side;
  qty: number;
  status: OrderStatus;
  filledQty: number;
  filledAvgPrice: number | null;
  commission: number;
  /** ISO-8601 UTC. */
  submittedAt: string;
  filledAt: string | null;
  rejectReason: string | null;
  /** True when this client_order_id had been submitted before and the earlier order is returned. */
  duplicate: boolean;
  /** Whether the fill price came from a modelled (not a printed) price. */
  approximatePrice: boolean;
}

export interface Position {
  ticker: string;
  /** Signed: negative for a short. */
  qty: number;
  avgEntryPrice: number;
  marketPrice: number;
  marketValue: number;
  unrealizedPnl: number;
}

export interface AccountState {
  accountId: number;
  owner: string;
  cash: number;
  equity: number;
  positions: Position[];
  /** When the marks were taken (ISO UTC) and whether they are modelled prices. */
  markedAt: string;
  approximateMarks: boolean;
  /** The broker's own equity at the previous session's close, when it reports one (Alpaca's last_equity). */
  lastEquity?: number;
}

export interface Broker {
  readonly name: string;
  /** Create the accounts that do not exist yet with their starting cash. Existing accounts are left alone. */
  ensureAccounts(accounts: readonly { id: number; owner: string }[], startingCash: number): Promise<void>;
  /** Cash, positions marked to market at the broker's current time, equity. */
  account(accountId: number): Promise<AccountState>;
  /** Several accounts, as `account` gives each, in one read when the broker can (optional: else one by one). */
  accounts?(accountIds: readonly number[]): Promise<AccountState[]>;
  /** Idempotent: a known clientOrderId returns the existing order with duplicate=true. */
  submitOrder(order: OrderRequest): Promise<OrderResult>;
  /**
   * All the orders of one execution (every account's, one checkpoint) at once, for a broker that needs
   * to see them together (Alpaca's sub-ledger mode nets them per ticker). Idempotent like submitOrder;
   * results in the order of the requests. Optional: callers go through `submitAll`, which falls back to
   * submitOrder one by one.
   */
  submitOrders?(orders: readonly OrderRequest[]): Promise<OrderResult[]>;
  getOrder(clientOrderId: string): Promise<OrderResult | null>;
  /**
   * A broker whose orders can stay open (an opening-auction order sent before the open): wait, up to
   * its deadline, until these orders are filled, rejected, cancelled or expired, record them, and
   * return them as they are then (still 'accepted' when the deadline passed). The simulated broker
   * fills or rejects at once and has no such method.
   */
  awaitOrders?(clientOrderIds: readonly string[]): Promise<OrderResult[]>;
  /**
   * The broker's own equity of an account at each session's close from `from` (YYYY-MM-DD), when it
   * keeps one (Alpaca's portfolio history): `accounts` sets it beside the books' week P/L.
   */
  dailyEquity?(accountId: number, from: string): Promise<{ date: string; equity: number }[]>;
  /**
   * After an execution, for a broker whose accounts are books kept beside one real account (Alpaca's
   * sub-ledger mode): the sum of the books against the broker's own positions and cash, stored and
   * returned. Brokers whose accounts are the broker's own have nothing to reconcile and no such method.
   */
  reconcile?(context: { weekId: string; checkpoint: string }): Promise<Reconciliation>;
  /** The latest reconciliation `reconcile` stored for this execution, or null (a file written again from the rows shows it). */
  storedReconciliation?(context: { weekId: string; checkpoint: string }): Promise<Reconciliation | null>;
}

/** Submits one execution's orders: together when the broker takes a batch, else one by one in order. */
export async function submitAll(broker: Broker, orders: readonly OrderRequest[]): Promise<OrderResult[]> {
  if (orders.length === 0) return [];
  if (broker.submitOrders) return broker.submitOrders(orders);
  const results: OrderResult[] = [];
  for (const order of orders) results.push(await broker.submitOrder(order));
  return results;
}

/**
 * The books (the sum of the sub-ledgers) against the one real account, as `--json` reports it
 * (snake_case). Differences are stated, never netted away: `status` is 'differs' when a position
 * differs by any amount or cash by more than the rounding tolerance.
 */
export interface Reconciliation {
  /** ISO UTC. */
  at: string;
  week_id: string;
  checkpoint: string;
  /** 'unavailable': the broker's account could not be read (`error` says why); nothing was compared. */
  status: 'ok' | 'differs' | 'unavailable';
  cash: {
    /** The broker's cash (null when unavailable). */
    broker: number | null;
    /** Σ of the sub-ledgers' cash. */
    books: number;
    /** The broker's cash that belongs to no sub-ledger, fixed when the sub-ledgers were created. */
    unallocated: number;
    /** broker − (books + unallocated). */
    difference: number | null;
    /** Rounding allowed: a cent per allocated fill (each sub-ledger's cash moves by round2(qty × price)). */
    tolerance: number;
  };
  /** Every ticker held by the broker or by a sub-ledger. */
  positions: {
    ticker: string;
    broker: number | null;
    books: number;
    /** broker − books. */
    difference: number | null;
    /** Each sub-ledger's signed quantity, by account id. */
    accounts: Record<string, number>;
  }[];
  /** The broker's equity (null when unavailable). */
  broker_equity: number | null;
  /** Net orders still open at the broker (their fills are not in either side yet). */
  open_orders: { client_order_id: string; ticker: string; side: Side; qty: number; filled_qty: number }[];
  notes: string[];
  error: string | null;
}
