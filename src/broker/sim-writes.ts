/**
 * The statements of one SimulatedBroker submission (one order or a batch), as few as PostgreSQL
 * allows: the orders inserted in one statement, and everything the fills and rejections change — the
 * positions, the cash, the fills, the audit events and the orders' new state — in one more.
 *
 * Rows travel as JSON arrays expanded by jsonb_populate_recordset (one parameter per table, as
 * storage/bulk-insert.ts does, for the same reason: drizzle binds a multi-row statement value by
 * value). The values stored are those drizzle would store: a JSON number is the text String(n) gives,
 * a Date its ISO string, a jsonb column the nested JSON value. Rows are expanded in array order, so
 * the serial ids of fills and events follow the order of the requests, as one order at a time gave.
 */
import { sql, type Placeholder } from 'drizzle-orm';
import type { Tx } from '../storage/db.js';
import { reusableStatement, type Slots } from '../storage/reusable-query.js';
import { accounts, events, fills, orders, positions } from '../storage/schema.js';

type OrderInsert = typeof orders.$inferInsert;

export interface PositionWrite {
  portfolio: string;
  accountId: number;
  ticker: string;
  /** 0: the row is deleted. */
  qty: number;
  avgEntryPrice: number;
  updatedAt: Date;
}

export interface FillWrite {
  clientOrderId: string;
  portfolio: string;
  accountId: number;
  ticker: string;
  side: string;
  qty: number;
  price: number;
  commission: number;
  filledAt: Date;
}

export interface EventWrite {
  idempotencyKey: string;
  portfolio: string;
  weekId: string;
  kind: string;
  stage: string;
  payload: unknown;
}

/** An order's state after its submission: filled or rejected. */
export interface OrderWrite {
  clientOrderId: string;
  status: string;
  filledAt: Date | null;
  filledQty: number;
  filledAvgPrice: number | null;
  commission: number | null;
  rejectReason: string | null;
  brokerOrderId: string | null;
}

export interface SubmissionWrites {
  /** The portfolio every row belongs to. */
  portfolio: string;
  positions: PositionWrite[];
  cash: { portfolio: string; id: number; cash: number }[];
  fills: FillWrite[];
  events: EventWrite[];
  orders: OrderWrite[];
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/**
 * Inserts the accepted orders whose id is new (on conflict do nothing) and returns the ids inserted.
 * The rows go in client_order_id order, so two submissions of overlapping ids (on PostgreSQL) take
 * the keys' locks in one order and cannot deadlock.
 */
export async function insertAcceptedOrders(tx: Tx, rows: readonly OrderInsert[]): Promise<Set<string>> {
  const sorted = [...rows].sort((a, b) => (a.clientOrderId < b.clientOrderId ? -1 : a.clientOrderId > b.clientOrderId ? 1 : 0));
  const json = JSON.stringify(
    sorted.map((r) => ({
      client_order_id: r.clientOrderId,
      portfolio: r.portfolio,
      account_id: r.accountId,
      week_id: r.weekId,
      checkpoint: r.checkpoint,
      action: r.action,
      sequence: r.sequence ?? null,
      ticker: r.ticker,
      side: r.side,
      qty: r.qty,
      order_type: r.orderType,
      status: r.status,
      submitted_at: iso(r.submittedAt),
      broker_order_id: r.brokerOrderId ?? null,
    })),
  );
  const result = await insertOrdersStatement(tx, { json });
  // Both drivers return { rows } (as storage/bulk-insert.ts reads them).
  return new Set((result as unknown as { rows: { client_order_id: string }[] }).rows.map((r) => r.client_order_id));
}

const insertOrdersStatement = reusableStatement((_tx, $: Slots<{ json: string }>) => {
  const columns = sql`client_order_id, portfolio, account_id, week_id, checkpoint, action, sequence, ticker, side, qty, order_type, status, submitted_at, broker_order_id`;
  return sql`insert into ${orders} (${columns}) select ${columns} from jsonb_populate_recordset(null::${orders}, ${$.json}::jsonb)
        on conflict (client_order_id) do nothing returning client_order_id`;
});

/** Everything the submission's fills and rejections change, in one statement (data-modifying WITH clauses). */
export async function applySubmission(tx: Tx, writes: SubmissionWrites): Promise<void> {
  await submissionStatement(tx, submissionValues(writes));
}

interface SubmissionValues {
  portfolio: string;
  positionUpserts: string;
  positionDeletes: string;
  positionDeleteCount: number;
  positionDeleteAccounts: number[];
  cash: string;
  cashCount: number;
  cashAccounts: number[];
  fills: string;
  events: string;
  orders: string;
  orderCount: number;
  orderIds: string[];
}

/** The values of applySubmission's statement: each table's rows as one JSON array (exported for the query-plan tests). */
export function submissionValues(writes: SubmissionWrites): SubmissionValues {
  const upserts = writes.positions.filter((p) => p.qty !== 0);
  const deletes = writes.positions.filter((p) => p.qty === 0);
  const positionRows = (list: PositionWrite[]) =>
    list.map((p) => ({
      portfolio: p.portfolio,
      account_id: p.accountId,
      ticker: p.ticker,
      qty: p.qty,
      avg_entry_price: p.avgEntryPrice,
      updated_at: iso(p.updatedAt),
    }));
  const fillRows = JSON.stringify(
    writes.fills.map((f) => ({
      client_order_id: f.clientOrderId,
      portfolio: f.portfolio,
      account_id: f.accountId,
      ticker: f.ticker,
      side: f.side,
      qty: f.qty,
      price: f.price,
      commission: f.commission,
      filled_at: iso(f.filledAt),
    })),
  );
  const eventRows = JSON.stringify(
    writes.events.map((e) => ({
      idempotency_key: e.idempotencyKey,
      portfolio: e.portfolio,
      week_id: e.weekId,
      kind: e.kind,
      stage: e.stage,
      seat: null,
      payload: e.payload,
    })),
  );
  const orderRows = writes.orders.map((o) => ({
    client_order_id: o.clientOrderId,
    status: o.status,
    filled_at: iso(o.filledAt),
    filled_qty: o.filledQty,
    filled_avg_price: o.filledAvgPrice,
    commission: o.commission,
    reject_reason: o.rejectReason,
    broker_order_id: o.brokerOrderId,
  }));
  const foreign = [...writes.positions, ...writes.cash, ...writes.fills, ...writes.events].find((w) => w.portfolio !== writes.portfolio);
  if (foreign) throw new Error(`a submission of portfolio ${writes.portfolio} writes a row of portfolio ${foreign.portfolio}`);
  return {
    portfolio: writes.portfolio,
    positionUpserts: JSON.stringify(positionRows(upserts)),
    positionDeletes: JSON.stringify(positionRows(deletes)),
    positionDeleteCount: deletes.length,
    positionDeleteAccounts: deletes.map((p) => p.accountId),
    cash: JSON.stringify(writes.cash),
    cashCount: writes.cash.length,
    cashAccounts: writes.cash.map((c) => c.id),
    fills: fillRows,
    events: eventRows,
    orders: JSON.stringify(orderRows),
    orderCount: orderRows.length,
    orderIds: orderRows.map((o) => o.client_order_id),
  };
}

/** The statement applySubmission runs (exported for the query-plan tests). */
export const submissionStatement = reusableStatement((_tx, $: Slots<SubmissionValues>) => {
  const positionColumns = sql`portfolio, account_id, ticker, qty, avg_entry_price, updated_at`;
  const fillColumns = sql`client_order_id, portfolio, account_id, ticker, side, qty, price, commission, filled_at`;
  const eventColumns = sql`idempotency_key, portfolio, week_id, kind, stage, seat, payload`;
  // Each WITH clause runs once, on its own rows: the upserted and the deleted positions are different keys.
  return sql`
    with position_upsert as (
      insert into ${positions} (${positionColumns})
      select ${positionColumns} from jsonb_populate_recordset(null::${positions}, ${$.positionUpserts}::jsonb)
      on conflict (portfolio, account_id, ticker) do update
        set qty = excluded.qty, avg_entry_price = excluded.avg_entry_price, updated_at = excluded.updated_at
    ), position_delete as (
      delete from ${positions} p using ${sizedRows(positions, $.positionDeletes, $.positionDeleteCount)} d
      where p.portfolio = ${$.portfolio} and p.account_id = any(${$.positionDeleteAccounts}::int[])
        and p.portfolio = d.portfolio and p.account_id = d.account_id and p.ticker = d.ticker
    ), cash_write as (
      update ${accounts} a set cash = c.cash from ${sizedRows(accounts, $.cash, $.cashCount)} c
      where a.portfolio = ${$.portfolio} and a.id = any(${$.cashAccounts}::int[]) and a.portfolio = c.portfolio and a.id = c.id
    ), fill_write as (
      insert into ${fills} (${fillColumns})
      select ${fillColumns} from jsonb_populate_recordset(null::${fills}, ${$.fills}::jsonb)
    ), event_write as (
      insert into ${events} (${eventColumns})
      select ${eventColumns} from jsonb_populate_recordset(null::${events}, ${$.events}::jsonb)
      on conflict (idempotency_key) do nothing
    )
    update ${orders} o set status = u.status, filled_at = u.filled_at, filled_qty = u.filled_qty,
      filled_avg_price = u.filled_avg_price, commission = u.commission, reject_reason = u.reject_reason,
      broker_order_id = u.broker_order_id
    from ${sizedRows(orders, $.orders, $.orderCount)} u
    where o.client_order_id = any(${$.orderIds}::text[]) and o.client_order_id = u.client_order_id`;
});

/**
 * The rows of a JSON array as a FROM item joined to `table` by key, sized for the planner.
 * jsonb_populate_recordset is estimated at 100 rows whatever it holds; joined to a table that only
 * grows (orders: every order ever placed in the database, by every backtest in it), that estimate
 * made PostgreSQL hash the whole table for the one or two rows a submission updates: a sequential
 * scan per submission, 2.6 ms late in the bundled range against 1.3 ms at its start. The LIMIT, the
 * array's own length, tells it how few rows there are: a nested loop over the primary key. But the
 * statement is prepared once and run thousands of times, and a generic plan (which PostgreSQL may
 * switch to after five runs) cannot see the LIMIT's value and hashed every order again: the keys are
 * therefore also given as arrays (`= any(…)` on the primary key), which custom and generic plans
 * alike look up through the index (tests/query-plans.test.ts checks both).
 */
function sizedRows(table: typeof orders | typeof accounts | typeof positions, rows: Placeholder, count: Placeholder) {
  return sql`(select * from jsonb_populate_recordset(null::${table}, ${rows}::jsonb) limit ${count})`;
}
