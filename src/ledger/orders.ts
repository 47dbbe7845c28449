/**
 * The orders of the ledger, whichever broker placed them: every broker records each order it was sent
 * in `orders` (and each fill in `fills`) with its audit event ('order:<client_order_id>'), so a week's
 * result, a resumed execution and the postmortem read one record.
 */
import { and, asc, eq, getTableColumns, inArray } from 'drizzle-orm';
import { roundQty } from '../broker/money.js';
import type { OrderRequest, OrderResult, Side } from '../ports/broker.js';
import type { Db, Tx } from '../storage/db.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { events, orders } from '../storage/schema.js';

type OrderRow = typeof orders.$inferSelect;

/**
 * The `orders` row of a request as every broker first records it: accepted, at `submittedAt`. A
 * malformed qty is stored as 0 so that a rejected order can still be recorded.
 */
export function acceptedOrderRow(
  portfolio: string,
  request: OrderRequest,
  submittedAt: Date,
  brokerOrderId: string | null = null,
): typeof orders.$inferInsert {
  return {
    clientOrderId: request.clientOrderId,
    portfolio,
    accountId: request.accountId,
    weekId: request.weekId,
    checkpoint: request.checkpoint,
    action: request.action,
    sequence: request.sequence ?? null,
    ticker: request.ticker,
    side: request.side,
    qty: Number.isFinite(request.qty) ? roundQty(request.qty) : 0,
    orderType: request.type,
    status: 'accepted',
    submittedAt,
    brokerOrderId,
  };
}

export function orderResultOf(row: OrderRow, approximatePrice: boolean, duplicate: boolean): OrderResult {
  return {
    clientOrderId: row.clientOrderId,
    accountId: row.accountId,
    ticker: row.ticker,
    side: row.side as Side,
    qty: row.qty,
    status: row.status as OrderResult['status'],
    filledQty: row.filledQty ?? 0,
    filledAvgPrice: row.filledAvgPrice,
    commission: row.commission ?? 0,
    submittedAt: row.submittedAt.toISOString(),
    filledAt: row.filledAt ? row.filledAt.toISOString() : null,
    rejectReason: row.rejectReason,
    duplicate,
    approximatePrice,
  };
}

/**
 * Whether a filled order's price was modelled rather than printed, from its audit event; without the
 * event we cannot show the price was a real print, so we say it may not be.
 */
export function approximateFromEvent(status: string, payload: unknown): boolean {
  if (status !== 'filled') return false;
  const p = payload as { result?: { approximatePrice?: unknown }; quote?: { approximate?: unknown } } | null | undefined;
  if (typeof p?.result?.approximatePrice === 'boolean') return p.result.approximatePrice;
  return p?.quote?.approximate !== false;
}

export interface OrderFilter {
  weekId: string;
  checkpoint?: string;
  accountId?: number;
}

/** recordedOrders' statement, one for each combination of the optional filters. */
function ordersOfWeekStatement(byCheckpoint: boolean, byAccount: boolean) {
  return reusableRows(
    getTableColumns(orders),
    (db, $: Slots<{ portfolio: string; weekId: string; checkpoint: string; accountId: number }>, fields) =>
      db
        .select(fields)
        .from(orders)
        .where(
          and(
            eq(orders.portfolio, $.portfolio),
            eq(orders.weekId, $.weekId),
            byCheckpoint ? eq(orders.checkpoint, $.checkpoint) : undefined,
            byAccount ? eq(orders.accountId, $.accountId) : undefined,
          ),
        )
        .orderBy(asc(orders.submittedAt), asc(orders.accountId), asc(orders.sequence), asc(orders.clientOrderId)),
  );
}

const ordersOfWeek = {
  'false-false': ordersOfWeekStatement(false, false),
  'true-false': ordersOfWeekStatement(true, false),
  'false-true': ordersOfWeekStatement(false, true),
  'true-true': ordersOfWeekStatement(true, true),
};

/** A portfolio's recorded orders of a week (optionally one checkpoint, one account), in the order placed. */
export async function recordedOrders(db: Db | Tx, portfolio: string, filter: OrderFilter): Promise<OrderResult[]> {
  const rows = await ordersOfWeek[`${filter.checkpoint !== undefined}-${filter.accountId !== undefined}`](db, {
    portfolio,
    weekId: filter.weekId,
    checkpoint: filter.checkpoint ?? '',
    accountId: filter.accountId ?? 0,
  });
  // The events by their unique key (an index lookup), not joined on an expression (a scan of the log).
  const filled = rows.filter((r) => r.status === 'filled').map((r) => `order:${r.clientOrderId}`);
  const payloads = new Map<string, unknown>();
  if (filled.length > 0) {
    const logged = await db
      .select({ key: events.idempotencyKey, payload: events.payload })
      .from(events)
      .where(inArray(events.idempotencyKey, filled));
    for (const e of logged) payloads.set(e.key, e.payload);
  }
  return rows.map((r) => orderResultOf(r, approximateFromEvent(r.status, payloads.get(`order:${r.clientOrderId}`)), false));
}
