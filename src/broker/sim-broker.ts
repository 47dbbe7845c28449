/**
 * The simulated broker: paper accounts kept in our own database (tables accounts, orders, fills,
 * positions), filled at the market-data model's price.
 *
 * Fills. A market order fills completely and at once at `marketData.priceAt(ticker, date, time)`
 * for the clock's current instant in America/New_York, moved against the trader by the slippage:
 *   buy price  = round6(model × (1 + slippage_bps / 10 000))
 *   sell price = round6(model × (1 − slippage_bps / 10 000))
 *   commission = round2(max(min_commission, qty × commission_per_share))
 *   cash Δ     = −(round2(qty × price) + commission) for a buy, round2(qty × price) − commission for a sell
 * Prices are kept to 6 decimals and cash to cents, rounded explicitly (money.ts) at each of the
 * steps above, so the stored numbers are exactly the ones a statement would show.
 *
 * Positions carry a signed quantity (negative = short). The average entry price (the fill price,
 * slippage included, commission not) is re-averaged when a position grows, kept when it shrinks, set
 * to the fill price when an order takes it through zero, and the row is deleted at zero.
 *
 * Money rules (no margin). Short-sale proceeds are credited to cash and the short's market value is a
 * liability, so equity = cash + Σ qty × mark. An order that opens or increases a position
 * ("risk-increasing") must leave
 *   - cash ≥ −tolerance when it is a buy (long buys are paid from cash), and
 *   - gross exposure Σ |qty × mark| ≤ maxGrossLeverage (1) × equity + tolerance,
 * where tolerance = 1% of equity. The tolerance is not credit: it absorbs the slippage, commission
 * and price move between sizing a full-equity position at one model price and filling it, which
 * would otherwise reject every conviction-2 order by a few dollars. Orders that only reduce a
 * position are never refused for money, so an account can always get out.
 *
 * Rejections are business outcomes, not errors: the order is stored with status 'rejected' and a
 * reason, and returned. Reasons: quantity not positive / more than 6 decimals; a short opened or
 * increased by a fractional quantity or to a fractional size (Alpaca refuses fractional shorts);
 * unknown account; no price at that instant (market closed, no bar that day); the money rules above.
 * Only a malformed client_order_id (which would make idempotency meaningless) throws.
 *
 * Idempotency. The order row's primary key is the client_order_id. Each submit runs in ONE
 * transaction: insert the order (on conflict do nothing); if nothing was inserted the order exists
 * and is returned with duplicate=true, unchanged. Otherwise the account row is locked (select … for
 * update, serialising orders of one account on PostgreSQL; PGlite runs one transaction at a time)
 * and the order's status, the fill, the position, the cash and an audit event are written together,
 * so a crash never leaves a fill without its cash change. Concurrent submits of the same id: the
 * second insert waits on the first's key and then finds it, so there is exactly one fill.
 * A duplicate id with different details (ticker, qty…) returns the stored order, as a broker would.
 *
 * Each order also writes its audit event in the same transaction (kind 'order', key
 * 'order:<client_order_id>': the request, the outcome and the quote it was filled at), so an order
 * never exists without its event; `approximatePrice` of a stored order is read back from it.
 *
 * Portfolios. A broker instance keeps the books of one portfolio: its accounts, orders, fills and
 * positions carry the portfolio's name, and it never reads or writes another's.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { ModelsConfig } from '../config/app-config.js';
import { addDays, utcToEt } from '../market/calendar.js';
import type { PriceQuote } from '../market/types.js';
import type { AccountState, Broker, OrderRequest, OrderResult, Position, Side } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { MarketData } from '../ports/market-data.js';
import type { Db, Tx } from '../storage/db.js';
import { accounts, events, fills, orders, positions } from '../storage/schema.js';
import { acceptedOrderRow, approximateFromEvent, orderResultOf } from '../ledger/orders.js';
import { roundCash, roundPrice, roundQty } from './money.js';

export interface SimulatedBrokerOptions {
  db: Db;
  /** The portfolio whose books this broker keeps. */
  portfolio: string;
  marketData: MarketData;
  clock: Clock;
  execution: ModelsConfig['execution'];
  /** Gross exposure allowed as a multiple of equity (default 1: no leverage). */
  maxGrossLeverage?: number;
  /** Fraction of equity by which cash and gross limits may be overshot (default 0.01, see header). */
  tolerance?: number;
}

/** Alpaca's limit for client_order_id; ours are built by order-plan.ts well under it. */
const MAX_CLIENT_ORDER_ID = 128;
const EVENT_KIND = 'order';
const eventKey = (clientOrderId: string): string => `order:${clientOrderId}`;
/** Before portfolios the event of a simulated order had this key; such orders are still read. */
const legacyEventKey = (clientOrderId: string): string => `sim-broker:${clientOrderId}`;

/** A price to value a position with, and whether it is a real print at this instant. */
interface Mark {
  price: number;
  approximate: boolean;
  source: string;
}

type OrderRow = typeof orders.$inferSelect;
type AccountRow = typeof accounts.$inferSelect;
type PositionRow = typeof positions.$inferSelect;

/** What the transaction decided, for the audit event and the result. */
interface Outcome {
  row: OrderRow;
  approximatePrice: boolean;
}

class Rejection {
  constructor(readonly reason: string) {}
}

export class SimulatedBroker implements Broker {
  readonly name = 'sim';
  readonly #db: Db;
  readonly #portfolio: string;
  readonly #marketData: MarketData;
  readonly #clock: Clock;
  readonly #execution: ModelsConfig['execution'];
  readonly #maxGrossLeverage: number;
  readonly #tolerance: number;

  constructor(options: SimulatedBrokerOptions) {
    this.#db = options.db;
    this.#portfolio = options.portfolio;
    this.#marketData = options.marketData;
    this.#clock = options.clock;
    this.#execution = options.execution;
    this.#maxGrossLeverage = options.maxGrossLeverage ?? 1;
    this.#tolerance = options.tolerance ?? 0.01;
    if (!(this.#maxGrossLeverage > 0)) throw new RangeError('maxGrossLeverage must be positive');
    if (!(this.#tolerance >= 0 && this.#tolerance < 1)) throw new RangeError('tolerance must be in [0, 1)');
  }

  async ensureAccounts(list: readonly { id: number; owner: string }[], startingCash: number): Promise<void> {
    if (!Number.isFinite(startingCash) || startingCash <= 0) {
      throw new RangeError(`starting cash must be a positive amount, got ${startingCash}`);
    }
    if (list.length === 0) return;
    const cash = roundCash(startingCash);
    await this.#db
      .insert(accounts)
      .values(list.map((a) => ({ portfolio: this.#portfolio, id: a.id, owner: a.owner, broker: this.name, startingCash: cash, cash })))
      .onConflictDoNothing({ target: [accounts.portfolio, accounts.id] });
  }

  async account(accountId: number): Promise<AccountState> {
    const [state] = await this.accounts([accountId]);
    return state as AccountState;
  }

  async accounts(accountIds: readonly number[]): Promise<AccountState[]> {
    const held = await this.#accountsWithPositions(this.#db, accountIds);
    const states: AccountState[] = [];
    for (const accountId of accountIds) {
      const one = held.get(accountId);
      if (!one) throw new Error(`unknown account ${accountId}`);
      states.push(await this.#state(one.account, one.positions));
    }
    return states;
  }

  /** An account marked to market at the clock's instant. */
  async #state(acct: AccountRow, rows: readonly PositionRow[]): Promise<AccountState> {
    const now = this.#clock.now();
    const et = utcToEt(now);
    const accountId = acct.id;
    const out: Position[] = [];
    let approximateMarks = false;
    let equity = acct.cash;
    for (const p of rows) {
      const mark = await this.#mark(p.ticker, et.date, et.time);
      approximateMarks ||= mark.approximate;
      const marketValue = roundCash(p.qty * mark.price);
      equity += marketValue;
      out.push({
        ticker: p.ticker,
        qty: p.qty,
        avgEntryPrice: p.avgEntryPrice,
        marketPrice: mark.price,
        marketValue,
        unrealizedPnl: roundCash(p.qty * (mark.price - p.avgEntryPrice)),
      });
    }
    return {
      accountId,
      owner: acct.owner,
      cash: roundCash(acct.cash),
      equity: roundCash(equity),
      positions: out,
      markedAt: now.toISOString(),
      approximateMarks,
    };
  }

  async getOrder(clientOrderId: string): Promise<OrderResult | null> {
    return this.#readOrder(this.#db, clientOrderId, false);
  }

  async submitOrder(request: OrderRequest): Promise<OrderResult> {
    checkClientOrderId(request.clientOrderId);
    const now = this.#clock.now();
    const et = utcToEt(now);
    const invalid = validateRequest(request);
    // The quote is fetched before the transaction so the database is not held open on market data.
    let quote: PriceQuote | null = null;
    let noPrice: string | null = null;
    if (invalid === null) {
      try {
        quote = await this.#marketData.priceAt(request.ticker, et.date, et.time);
        if (!(quote.price > 0)) throw new Error(`price ${quote.price} is not positive`);
      } catch (error) {
        noPrice = `no price for ${request.ticker} at ${et.date} ${et.time} ET (market closed?): ${messageOf(error)}`;
        quote = null;
      }
    }

    const accepted = acceptedOrderRow(this.#portfolio, request, now);
    return this.#db.transaction(async (tx) => {
      const inserted = await tx
        .insert(orders)
        .values(accepted)
        .onConflictDoNothing({ target: orders.clientOrderId })
        .returning({ id: orders.clientOrderId });
      if (inserted.length === 0) {
        const existing = await this.#readOrder(tx, request.clientOrderId, true);
        if (!existing) throw new Error(`order ${request.clientOrderId} conflicted but cannot be read`);
        return existing;
      }

      const context = { et, now, quote, accepted };
      let outcome: Outcome;
      const decided = invalid !== null ? new Rejection(invalid) : noPrice !== null ? new Rejection(noPrice) : null;
      if (decided) outcome = await this.#reject(tx, request, decided.reason, context);
      else {
        const result = await this.#fill(tx, request, quote as PriceQuote, context);
        outcome = result instanceof Rejection ? await this.#reject(tx, request, result.reason, context) : result;
      }
      return orderResultOf(outcome.row, outcome.approximatePrice, false);
    });
  }

  /** Applies a fill, or returns why it must be rejected. Runs inside the order's transaction. */
  async #fill(
    tx: Tx,
    request: OrderRequest,
    quote: PriceQuote,
    context: { et: { date: string; time: string }; now: Date; accepted: typeof orders.$inferInsert },
  ): Promise<Outcome | Rejection> {
    // Lock first, then read the positions: on PostgreSQL a joined read would see the positions as
    // they were before waiting for the lock, not as the order that held it left them.
    const [acct] = await tx
      .select()
      .from(accounts)
      .where(and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, request.accountId)))
      .for('update');
    if (!acct) return new Rejection(`unknown account ${request.accountId} in portfolio ${this.#portfolio}`);
    const held = await tx
      .select()
      .from(positions)
      .where(and(eq(positions.portfolio, this.#portfolio), eq(positions.accountId, request.accountId)));
    const before = held.find((p) => p.ticker === request.ticker);

    const qty = roundQty(request.qty);
    const sign = request.side === 'buy' ? 1 : -1;
    const slip = this.#execution.slippage_bps / 10_000;
    const price = roundPrice(quote.price * (1 + sign * slip));
    const commission = roundCash(Math.max(this.#execution.min_commission, qty * this.#execution.commission_per_share));
    const notional = roundCash(qty * price);
    const cashDelta = sign > 0 ? -(notional + commission) : notional - commission;
    const cashAfter = roundCash(acct.cash + cashDelta);

    const q0 = before?.qty ?? 0;
    const q1 = roundQty(q0 + sign * qty);
    const increases = q1 !== 0 && (q0 === 0 || Math.sign(q1) !== Math.sign(q0) || Math.abs(q1) > Math.abs(q0));

    if (increases && q1 < 0 && (!Number.isInteger(qty) || !Number.isInteger(q1))) {
      return new Rejection(`short sales must be whole shares: selling ${qty} ${request.ticker} from ${q0} would leave ${q1}`);
    }

    if (increases) {
      // Value the account after the trade; the traded ticker at the model price (before slippage).
      let gross = 0;
      let equityAfter = cashAfter;
      for (const p of held) {
        if (p.ticker === request.ticker) continue;
        let mark: Mark;
        try {
          mark = await this.#mark(p.ticker, context.et.date, context.et.time);
        } catch (error) {
          return new Rejection(`cannot value the ${p.ticker} position to check exposure: ${messageOf(error)}`);
        }
        gross += Math.abs(p.qty * mark.price);
        equityAfter += p.qty * mark.price;
      }
      gross += Math.abs(q1 * quote.price);
      equityAfter += q1 * quote.price;
      const slack = this.#tolerance * Math.max(equityAfter, 0);
      if (request.side === 'buy' && q1 > 0 && cashAfter < -slack) {
        return new Rejection(
          `insufficient cash: buying ${qty} ${request.ticker} at ${price} costs ${roundCash(notional + commission)} ` +
            `with commission; cash is ${roundCash(acct.cash)}`,
        );
      }
      if (equityAfter <= 0) {
        return new Rejection(`account equity would be ${roundCash(equityAfter)}: no new exposure allowed`);
      }
      const limit = this.#maxGrossLeverage * equityAfter + slack;
      if (gross > limit) {
        return new Rejection(`gross exposure ${roundCash(gross)} would exceed ${this.#maxGrossLeverage}× equity ${roundCash(equityAfter)}`);
      }
    }

    // Position: re-average on increase, keep on reduction, reset when crossing zero, delete at zero.
    const positionKey = and(
      eq(positions.portfolio, this.#portfolio),
      eq(positions.accountId, request.accountId),
      eq(positions.ticker, request.ticker),
    );
    let positionWrite;
    if (q1 === 0) {
      positionWrite = tx.delete(positions).where(positionKey);
    } else {
      let avg: number;
      if (!before || q0 === 0) avg = price;
      else if (Math.sign(q1) !== Math.sign(q0)) avg = price;
      else if (Math.abs(q1) > Math.abs(q0)) avg = roundPrice((Math.abs(q0) * before.avgEntryPrice + qty * price) / Math.abs(q1));
      else avg = before.avgEntryPrice;
      positionWrite = before
        ? tx.update(positions).set({ qty: q1, avgEntryPrice: avg, updatedAt: context.now }).where(positionKey)
        : tx.insert(positions).values({
            portfolio: this.#portfolio,
            accountId: request.accountId,
            ticker: request.ticker,
            qty: q1,
            avgEntryPrice: avg,
            updatedAt: context.now,
          });
    }
    const cashWrite = tx
      .update(accounts)
      .set({ cash: cashAfter })
      .where(and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, request.accountId)));
    const fillWrite = tx.insert(fills).values({
      clientOrderId: request.clientOrderId,
      portfolio: this.#portfolio,
      accountId: request.accountId,
      ticker: request.ticker,
      side: request.side,
      qty,
      price,
      commission,
      filledAt: context.now,
    });
    const filled = {
      status: 'filled',
      filledAt: context.now,
      filledQty: qty,
      filledAvgPrice: price,
      commission,
      brokerOrderId: `sim-${request.clientOrderId}`,
    } as const;
    // The audit event describes the order as this statement leaves it (the accepted row plus `filled`).
    const filledRow: OrderRow = { ...context.accepted, sequence: context.accepted.sequence ?? null, ...filled, rejectReason: null };
    const audit = this.#auditRow(tx, request, filledRow, quote.approximate, {
      status: 'filled',
      quote,
      fill: { qty, price, commission, notional, cashDelta: roundCash(cashDelta) },
      cash: { before: roundCash(acct.cash), after: cashAfter },
      position: { before: q0, after: q1 },
    });
    // The position, the cash, the fill, the audit event and the order's new state in one statement
    // (data-modifying WITH clauses: each runs once, on different tables), as five statements did before.
    const [row] = await tx
      .with(
        tx.$with('position_write').as(positionWrite),
        tx.$with('cash_write').as(cashWrite),
        tx.$with('fill_write').as(fillWrite),
        tx.$with('event_write').as(audit),
      )
      .update(orders)
      .set(filled)
      .where(eq(orders.clientOrderId, request.clientOrderId))
      .returning();
    return { row: row as OrderRow, approximatePrice: quote.approximate };
  }

  async #reject(tx: Tx, request: OrderRequest, reason: string, context: { quote: PriceQuote | null }): Promise<Outcome> {
    const [row] = await tx
      .update(orders)
      .set({ status: 'rejected', rejectReason: reason, filledQty: 0 })
      .where(eq(orders.clientOrderId, request.clientOrderId))
      .returning();
    await this.#audit(tx, request, row as OrderRow, false, { status: 'rejected', reason, quote: context.quote });
    return { row: row as OrderRow, approximatePrice: false };
  }

  async #audit(tx: Tx, request: OrderRequest, row: OrderRow, approximatePrice: boolean, detail: Record<string, unknown>): Promise<void> {
    await this.#auditRow(tx, request, row, approximatePrice, detail);
  }

  /** The order's 'order:<client_order_id>' event (inserted once: a conflict keeps the first). */
  #auditRow(tx: Tx, request: OrderRequest, row: OrderRow, approximatePrice: boolean, detail: Record<string, unknown>) {
    return tx
      .insert(events)
      .values({
        idempotencyKey: eventKey(request.clientOrderId),
        portfolio: this.#portfolio,
        weekId: request.weekId,
        kind: EVENT_KIND,
        stage: request.checkpoint === 'weekly' ? 'execute' : 'checkpoint',
        seat: null,
        payload: { broker: this.name, request, result: orderResultOf(row, approximatePrice, false), ...detail },
      })
      .onConflictDoNothing({ target: events.idempotencyKey });
  }

  /** Accounts with their positions (by ticker) in one round trip; for reading, not for orders (see #fill). */
  async #accountsWithPositions(
    db: Db,
    accountIds: readonly number[],
  ): Promise<Map<number, { account: AccountRow; positions: PositionRow[] }>> {
    const rows = await db
      .select({ account: accounts, position: positions })
      .from(accounts)
      .leftJoin(positions, and(eq(positions.portfolio, accounts.portfolio), eq(positions.accountId, accounts.id)))
      .where(and(eq(accounts.portfolio, this.#portfolio), inArray(accounts.id, [...accountIds])))
      .orderBy(asc(accounts.id), asc(positions.ticker));
    const byId = new Map<number, { account: AccountRow; positions: PositionRow[] }>();
    for (const r of rows) {
      const one = byId.get(r.account.id) ?? { account: r.account, positions: [] };
      if (r.position) one.positions.push(r.position);
      byId.set(r.account.id, one);
    }
    return byId;
  }

  async #readOrder(db: Db | Tx, clientOrderId: string, duplicate: boolean): Promise<OrderResult | null> {
    const [row] = await db.select().from(orders).where(eq(orders.clientOrderId, clientOrderId));
    if (!row) return null;
    if (row.portfolio !== this.#portfolio)
      throw new Error(`order ${clientOrderId} belongs to portfolio ${row.portfolio}, not ${this.#portfolio}`);
    let payload: unknown = null;
    if (row.status === 'filled') {
      const [event] = await db
        .select({ payload: events.payload })
        .from(events)
        .where(inArray(events.idempotencyKey, [eventKey(clientOrderId), legacyEventKey(clientOrderId)]));
      payload = event?.payload;
    }
    return orderResultOf(row, approximateFromEvent(row.status, payload), duplicate);
  }

  /**
   * The price to value a position at: the model price at this instant; when there is none (weekend,
   * holiday, outside the data) the last close strictly before today's date, flagged approximate
   * because it is not a price at this instant (and never today's close, which may lie in the future).
   */
  async #mark(ticker: string, date: string, time: string): Promise<Mark> {
    try {
      const q = await this.#marketData.priceAt(ticker, date, time);
      return { price: q.price, approximate: q.approximate, source: q.source };
    } catch (error) {
      const last = (await this.#marketData.bars(ticker, addDays(date, -1), 1)).at(-1);
      if (!last) throw new Error(`no price for ${ticker} at ${date} ${time} ET nor any earlier bar: ${messageOf(error)}`);
      return { price: last.close, approximate: true, source: `close of ${last.date}` };
    }
  }
}

function checkClientOrderId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CLIENT_ORDER_ID) {
    throw new TypeError(`client_order_id must be 1..${MAX_CLIENT_ORDER_ID} characters, got ${JSON.stringify(id)}`);
  }
}

/** Why a request cannot be filled whatever the account holds, or null. */
function validateRequest(request: OrderRequest): string | null {
  const sides: readonly Side[] = ['buy', 'sell'];
  if (!sides.includes(request.side)) return `unknown side ${JSON.stringify(request.side)}`;
  if (request.type !== 'market') return `unsupported order type ${JSON.stringify(request.type)}`;
  if (!Number.isFinite(request.qty) || request.qty <= 0) return `quantity must be positive, got ${request.qty}`;
  if (Math.abs(request.qty - roundQty(request.qty)) > 1e-9) {
    return `quantity ${request.qty} has more than 6 decimals`;
  }
  if (!Number.isInteger(request.accountId)) return `invalid account id ${request.accountId}`;
  return null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
