/**
 * How the Alpaca brokers write the ledger: the same tables the simulated broker writes (orders, fills,
 * positions, accounts.cash, an 'order:<client_order_id>' event), one transaction per state change, so
 * the postmortem and backtests read one ledger whichever broker traded. Shared by the per-account
 * broker (alpaca-broker.ts: one Alpaca order per ledger order) and the sub-ledger broker
 * (alpaca-subledger-broker.ts: one Alpaca order allocated to several ledger orders).
 *
 * An order row is inserted (conflict: nothing) and locked; an order already final in the ledger is
 * never applied twice. A fill moves the position (re-averaged on increase, kept on reduction, reset
 * through zero) and the cash (−round2(qty × price) for a buy, +round2(qty × price) for a sell; Alpaca
 * charges no commission), and the event's payload is replaced by the final one.
 */
import { and, asc, eq } from 'drizzle-orm';
import { acceptedOrderRow, orderResultOf } from '../ledger/orders.js';
import type { AccountState, OrderRequest, OrderResult, Position, Side } from '../ports/broker.js';
import type { Db, Tx } from '../storage/db.js';
import { accounts, events, fills, orders, positions } from '../storage/schema.js';
import { roundCash, roundPrice, roundQty } from './money.js';

export type OrderRow = typeof orders.$inferSelect;

/** A final state of an order as the broker learnt it. */
export interface FinalState {
  status: 'filled' | 'canceled' | 'rejected';
  /** Shares filled (0 for none). */
  filledQty: number;
  /** The fill's average price (null without a fill). */
  price: number | null;
  filledAt: Date;
  reason: string | null;
  brokerOrderId: string | null;
  /** The price was not printed for this order (an internal cross at a reference price). */
  approximatePrice?: boolean;
}

export interface AlpacaLedgerOptions {
  db: Db;
  portfolio: string;
  /** The broker's name, written into every event. */
  broker: string;
  now: () => number;
}

export class AlpacaLedger {
  readonly #db: Db;
  readonly #portfolio: string;
  readonly #broker: string;
  readonly #now: () => number;

  constructor(options: AlpacaLedgerOptions) {
    this.#db = options.db;
    this.#portfolio = options.portfolio;
    this.#broker = options.broker;
    this.#now = options.now;
  }

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#db.transaction(work);
  }

  /** The ledger's row of an order (null when it has none); an order of another portfolio is an error. */
  async row(db: Db | Tx, clientOrderId: string): Promise<OrderRow | null> {
    const [row] = await db.select().from(orders).where(eq(orders.clientOrderId, clientOrderId));
    if (!row) return null;
    if (row.portfolio !== this.#portfolio)
      throw new Error(`order ${clientOrderId} belongs to portfolio ${row.portfolio}, not ${this.#portfolio}`);
    return row;
  }

  /** Records the order as accepted (open at the broker) unless the ledger already has it; its result. */
  async accepted(
    tx: Tx,
    request: OrderRequest,
    submittedAt: Date,
    brokerOrderId: string | null,
    detail: Record<string, unknown>,
  ): Promise<OrderResult> {
    const row = await this.#insertAndLock(tx, request, submittedAt, brokerOrderId);
    if (row.status !== 'accepted') return orderResultOf(row, false, false);
    if (brokerOrderId !== null && row.brokerOrderId !== brokerOrderId)
      await tx.update(orders).set({ brokerOrderId }).where(eq(orders.clientOrderId, request.clientOrderId));
    await this.#audit(tx, request, { ...row, brokerOrderId }, false, { status: 'accepted', ...detail });
    return orderResultOf(row, false, false);
  }

  /** Records the order's final state with its fill, once: an order already final is returned as it is. */
  async final(tx: Tx, request: OrderRequest, submittedAt: Date, state: FinalState, detail: Record<string, unknown>): Promise<OrderResult> {
    const row = await this.#insertAndLock(tx, request, submittedAt, state.brokerOrderId);
    if (row.status !== 'accepted') return orderResultOf(row, false, false);
    const qty = roundQty(state.filledQty);
    const price = state.price === null ? null : roundPrice(state.price);
    const approximate = state.approximatePrice === true;
    let payload: Record<string, unknown> = { status: state.status, reason: state.reason, ...detail };
    if (qty > 0 && price !== null) payload = { ...payload, ...(await this.#applyFill(tx, request, qty, price, state.filledAt)) };
    const [updated] = await tx
      .update(orders)
      .set({
        status: state.status,
        filledQty: qty,
        filledAvgPrice: qty > 0 ? price : null,
        filledAt: qty > 0 ? state.filledAt : null,
        commission: 0,
        rejectReason: state.reason,
        brokerOrderId: state.brokerOrderId ?? row.brokerOrderId,
      })
      .where(eq(orders.clientOrderId, request.clientOrderId))
      .returning();
    await this.#audit(tx, request, updated as OrderRow, approximate, payload);
    return orderResultOf(updated as OrderRow, approximate && qty > 0, false);
  }

  /** Records a refusal (nothing filled), in its own transaction; an order already final is returned as it is. */
  async rejected(request: OrderRequest, reason: string, detail: Record<string, unknown> = {}): Promise<OrderResult> {
    const now = new Date(this.#now());
    return this.#db.transaction(async (tx) => {
      const row = await this.#insertAndLock(tx, request, now, null);
      if (row.status !== 'accepted') return orderResultOf(row, false, true);
      return this.final(
        tx,
        request,
        now,
        { status: 'rejected', filledQty: 0, price: null, filledAt: now, reason, brokerOrderId: null },
        detail,
      );
    });
  }

  /** A refusal that reached nobody's books: shown, not recorded (a re-run derives the same id). */
  unrecorded(request: OrderRequest, reason: string): OrderResult {
    return {
      clientOrderId: request.clientOrderId,
      accountId: request.accountId,
      ticker: request.ticker,
      side: request.side,
      qty: request.qty,
      status: 'rejected',
      filledQty: 0,
      filledAvgPrice: null,
      commission: 0,
      submittedAt: new Date(this.#now()).toISOString(),
      filledAt: null,
      rejectReason: reason,
      duplicate: false,
      approximatePrice: false,
    };
  }

  /** An account as the ledger keeps it, marked by `markOf` (else at entry prices, flagged approximate). */
  async account(
    accountId: number,
    markOf: (ticker: string) => number | undefined = () => undefined,
    approximate = false,
  ): Promise<AccountState | null> {
    const [row] = await this.#db
      .select()
      .from(accounts)
      .where(and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, accountId)));
    if (!row) return null;
    const rows = await this.#db
      .select()
      .from(positions)
      .where(and(eq(positions.portfolio, this.#portfolio), eq(positions.accountId, accountId)))
      .orderBy(asc(positions.ticker));
    let equity = row.cash;
    let entryMarks = false;
    const out: Position[] = rows.map((p) => {
      const mark = markOf(p.ticker);
      if (mark === undefined) entryMarks = true;
      const price = mark ?? p.avgEntryPrice;
      const marketValue = roundCash(p.qty * price);
      equity += marketValue;
      return {
        ticker: p.ticker,
        qty: p.qty,
        avgEntryPrice: p.avgEntryPrice,
        marketPrice: price,
        marketValue,
        unrealizedPnl: roundCash(p.qty * (price - p.avgEntryPrice)),
      };
    });
    return {
      accountId,
      owner: row.owner,
      cash: roundCash(row.cash),
      equity: roundCash(equity),
      positions: out,
      markedAt: new Date(this.#now()).toISOString(),
      approximateMarks: approximate || entryMarks,
    };
  }

  async #insertAndLock(tx: Tx, request: OrderRequest, submittedAt: Date, brokerOrderId: string | null): Promise<OrderRow> {
    await tx
      .insert(orders)
      .values(acceptedOrderRow(this.#portfolio, request, submittedAt, brokerOrderId))
      .onConflictDoNothing({ target: orders.clientOrderId });
    const [row] = await tx.select().from(orders).where(eq(orders.clientOrderId, request.clientOrderId)).for('update');
    if (!row) throw new Error(`order ${request.clientOrderId} cannot be read after inserting it`);
    if (row.portfolio !== this.#portfolio)
      throw new Error(`order ${request.clientOrderId} belongs to portfolio ${row.portfolio}, not ${this.#portfolio}`);
    return row;
  }

  /** The fill's position and cash change and its fills row, as the simulated broker writes them. */
  async #applyFill(tx: Tx, request: OrderRequest, qty: number, price: number, filledAt: Date): Promise<Record<string, unknown>> {
    const accountKey = and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, request.accountId));
    const [acct] = await tx.select().from(accounts).where(accountKey).for('update');
    if (!acct)
      throw new Error(`account ${request.accountId} of portfolio ${this.#portfolio} is not in the ledger (run ensureAccounts first)`);
    const positionKey = and(
      eq(positions.portfolio, this.#portfolio),
      eq(positions.accountId, request.accountId),
      eq(positions.ticker, request.ticker),
    );
    const [before] = await tx.select().from(positions).where(positionKey);
    const sign = request.side === 'buy' ? 1 : -1;
    const notional = roundCash(qty * price);
    const cashAfter = roundCash(acct.cash - sign * notional);
    const q0 = before?.qty ?? 0;
    const q1 = roundQty(q0 + sign * qty);
    if (q1 === 0) await tx.delete(positions).where(positionKey);
    else {
      let avg: number;
      if (!before || q0 === 0 || Math.sign(q1) !== Math.sign(q0)) avg = price;
      else if (Math.abs(q1) > Math.abs(q0)) avg = roundPrice((Math.abs(q0) * before.avgEntryPrice + qty * price) / Math.abs(q1));
      else avg = before.avgEntryPrice;
      if (before) await tx.update(positions).set({ qty: q1, avgEntryPrice: avg, updatedAt: filledAt }).where(positionKey);
      else
        await tx.insert(positions).values({
          portfolio: this.#portfolio,
          accountId: request.accountId,
          ticker: request.ticker,
          qty: q1,
          avgEntryPrice: avg,
          updatedAt: filledAt,
        });
    }
    await tx.update(accounts).set({ cash: cashAfter }).where(accountKey);
    await tx.insert(fills).values({
      clientOrderId: request.clientOrderId,
      portfolio: this.#portfolio,
      accountId: request.accountId,
      ticker: request.ticker,
      side: request.side,
      qty,
      price,
      commission: 0,
      filledAt,
    });
    return {
      fill: { qty, price, commission: 0, notional, cashDelta: roundCash(-sign * notional) },
      cash: { before: roundCash(acct.cash), after: cashAfter },
      position: { before: q0, after: q1 },
    };
  }

  /** The order's event: written with its first state, replaced by its final one (same key, same transaction). */
  async #audit(tx: Tx, request: OrderRequest, row: OrderRow, approximate: boolean, detail: Record<string, unknown>): Promise<void> {
    const result = orderResultOf(row, approximate && (row.filledQty ?? 0) > 0, false);
    const payload = { broker: this.#broker, request, result, ...detail };
    await tx
      .insert(events)
      .values({
        idempotencyKey: `order:${request.clientOrderId}`,
        portfolio: this.#portfolio,
        weekId: request.weekId,
        kind: 'order',
        stage: request.checkpoint === 'weekly' ? 'execute' : 'checkpoint',
        seat: null,
        payload,
      })
      .onConflictDoUpdate({ target: events.idempotencyKey, set: { payload } });
  }
}

/** The request an order row was made from (to record a later state of it). */
export function requestOfRow(row: OrderRow): OrderRequest {
  return {
    clientOrderId: row.clientOrderId,
    ...(row.sequence !== null ? { sequence: row.sequence } : {}),
    accountId: row.accountId,
    weekId: row.weekId,
    checkpoint: row.checkpoint,
    action: row.action,
    ticker: row.ticker,
    side: row.side as Side,
    qty: row.qty,
    type: 'market',
  };
}

/** Why a request cannot be sent whatever the account holds, or null. */
export function invalidRequest(request: OrderRequest): string | null {
  if (request.side !== 'buy' && request.side !== 'sell') return `unknown side ${JSON.stringify(request.side)}`;
  if (request.type !== 'market') return `unsupported order type ${JSON.stringify(request.type)}`;
  if (!Number.isFinite(request.qty) || request.qty <= 0) return `quantity must be positive, got ${request.qty}`;
  if (!Number.isInteger(request.accountId)) return `invalid account id ${request.accountId}`;
  return null;
}

export function dateOf(iso: string | null, fallback: Date): Date {
  if (iso === null) return fallback;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? fallback : d;
}
