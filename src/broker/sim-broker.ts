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
 * Batches. `submitOrders` (one execution's orders: the weekly one, a checkpoint's) runs them all in
 * one such transaction, with the outcomes of submitting them one by one in request order: the new
 * orders are inserted together, the trading accounts locked and their positions read once, each
 * order decided (sim-fill.ts, the rules above) from the books the orders before it left, and every
 * change written in one more statement (sim-writes.ts). `submitOrder` is a batch of one. The other
 * positions of an account are valued in ticker order for the exposure check.
 *
 * Each order also writes its audit event in the same transaction (kind 'order', key
 * 'order:<client_order_id>': the request, the outcome and the quote it was filled at), so an order
 * never exists without its event; `approximatePrice` of a stored order is read back from it.
 *
 * Portfolios. A broker instance keeps the books of one portfolio: its accounts, orders, fills and
 * positions carry the portfolio's name, and it never reads or writes another's.
 */
import { and, asc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { ModelsConfig } from '../config/app-config.js';
import { addDays, utcToEt } from '../market/calendar.js';
import type { PriceQuote } from '../market/types.js';
import type { AccountState, Broker, OrderRequest, OrderResult, Position, Side } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { MarketData } from '../ports/market-data.js';
import type { Db, Tx } from '../storage/db.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { accounts, events, orders, positions } from '../storage/schema.js';
import { acceptedOrderRow, approximateFromEvent, orderResultOf } from '../ledger/orders.js';
import { roundCash, roundQty } from './money.js';
import { decideFill, type Fill, type HeldRow, type Mark } from './sim-fill.js';
import { applySubmission, insertAcceptedOrders, type OrderWrite, type PositionWrite, type SubmissionWrites } from './sim-writes.js';

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

type OrderRow = typeof orders.$inferSelect;
type AccountRow = typeof accounts.$inferSelect;
type PositionRow = typeof positions.$inferSelect;

/** What the transaction decided, for the audit event and the result. */
interface Outcome {
  row: OrderRow;
  approximatePrice: boolean;
}

/** An order before its transaction: its row, its quote, and why it cannot fill whatever the books (or null). */
interface Prepared {
  request: OrderRequest;
  accepted: typeof orders.$inferInsert;
  quote: PriceQuote | null;
  rejection: string | null;
}

/** A locked account during a submission: its cash and positions as the orders so far left them. */
interface Book {
  account: AccountRow;
  /** By ticker. */
  held: HeldRow[];
  /** The positions to write (qty 0: delete), by ticker. */
  changed: Map<string, PositionWrite>;
  cashChanged: boolean;
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
  /**
   * Accounts this broker has ensured. Accounts are never deleted, so ensuring one again is a statement
   * that inserts nothing (a backtest would send it every week).
   */
  readonly #ensured = new Set<number>();

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
    const missing = list.filter((a) => !this.#ensured.has(a.id));
    if (missing.length === 0) return;
    const cash = roundCash(startingCash);
    await this.#db
      .insert(accounts)
      .values(missing.map((a) => ({ portfolio: this.#portfolio, id: a.id, owner: a.owner, broker: this.name, startingCash: cash, cash })))
      .onConflictDoNothing({ target: [accounts.portfolio, accounts.id] });
    for (const a of missing) this.#ensured.add(a.id);
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
    return (await this.submitOrders([request]))[0] as OrderResult;
  }

  /**
   * Several orders in one transaction, with the outcomes of submitting them one by one in this order:
   * the orders are inserted in one statement, the accounts that trade locked and their positions read
   * once, each order decided in request order from the books the orders before it left (decideFill),
   * and every change written in one more statement. A client_order_id given twice is submitted one
   * by one (the later ones are duplicates of the first, as a broker returns them).
   */
  async submitOrders(requests: readonly OrderRequest[]): Promise<OrderResult[]> {
    for (const request of requests) checkClientOrderId(request.clientOrderId);
    if (requests.length === 0) return [];
    if (new Set(requests.map((r) => r.clientOrderId)).size !== requests.length) {
      const results: OrderResult[] = [];
      for (const request of requests) results.push(...(await this.submitOrders([request])));
      return results;
    }
    const now = this.#clock.now();
    const et = utcToEt(now);
    // Quotes and marks are fetched before the transaction so the database is not held open on market data.
    const prepared = await Promise.all(requests.map((request) => this.#prepare(request, now, et)));

    return this.#db.transaction(async (tx) => {
      const inserted = await insertAcceptedOrders(
        tx,
        prepared.map((p) => p.accepted),
      );
      const results: OrderResult[] = new Array<OrderResult>(prepared.length);
      const fresh: { p: Prepared; at: number }[] = [];
      for (const [at, p] of prepared.entries()) {
        if (inserted.has(p.request.clientOrderId)) {
          fresh.push({ p, at });
          continue;
        }
        // The order exists: returned with duplicate=true, unchanged.
        const existing = await this.#readOrder(tx, p.request.clientOrderId, true);
        if (!existing) throw new Error(`order ${p.request.clientOrderId} conflicted but cannot be read`);
        results[at] = existing;
      }
      const books = await this.#lockBooks(
        tx,
        fresh.filter(({ p }) => p.rejection === null).map(({ p }) => p.request.accountId),
      );
      const marks = await this.#marks(
        books,
        fresh.map(({ p }) => p),
        et,
      );
      const writes: SubmissionWrites = { portfolio: this.#portfolio, positions: [], cash: [], fills: [], events: [], orders: [] };
      for (const { p, at } of fresh) {
        const outcome = this.#decide(p, books, marks, now, writes);
        results[at] = orderResultOf(outcome.row, outcome.approximatePrice, false);
      }
      for (const [id, book] of books) {
        if (book.cashChanged) writes.cash.push({ portfolio: this.#portfolio, id, cash: book.account.cash });
        writes.positions.push(...book.changed.values());
      }
      if (fresh.length > 0) await applySubmission(tx, writes);
      return results;
    });
  }

  /** What can be known of an order before its transaction: its row, its quote, or why it cannot fill. */
  async #prepare(request: OrderRequest, now: Date, et: { date: string; time: string }): Promise<Prepared> {
    const accepted = acceptedOrderRow(this.#portfolio, request, now);
    const invalid = validateRequest(request);
    if (invalid !== null) return { request, accepted, quote: null, rejection: invalid };
    try {
      const quote = await this.#marketData.priceAt(request.ticker, et.date, et.time);
      if (!(quote.price > 0)) throw new Error(`price ${quote.price} is not positive`);
      return { request, accepted, quote, rejection: null };
    } catch (error) {
      const reason = `no price for ${request.ticker} at ${et.date} ${et.time} ET (market closed?): ${messageOf(error)}`;
      return { request, accepted, quote: null, rejection: reason };
    }
  }

  /**
   * Locks the accounts, then reads their positions. Lock first, then read: on PostgreSQL a joined
   * read would see the positions as they were before waiting for the lock, not as the order that held
   * it left them. Accounts are locked in id order, so two submissions cannot deadlock.
   */
  async #lockBooks(tx: Tx, accountIds: readonly number[]): Promise<Map<number, Book>> {
    const books = new Map<number, Book>();
    const ids = [...new Set(accountIds)].sort((a, b) => a - b);
    if (ids.length === 0) return books;
    const locked = await lockAccounts(tx, { portfolio: this.#portfolio, ids });
    for (const account of locked) books.set(account.id, { account, held: [], changed: new Map(), cashChanged: false });
    if (locked.length === 0) return books;
    const held = await positionsOf(tx, { portfolio: this.#portfolio, ids: [...books.keys()] });
    for (const p of held) books.get(p.accountId)?.held.push({ ticker: p.ticker, qty: p.qty, avgEntryPrice: p.avgEntryPrice });
    // Summed in ticker order (decideFill), whatever order the database returned them in.
    for (const book of books.values()) book.held.sort(byTicker);
    return books;
  }

  /** The marks every exposure check of the submission may need: each held or traded ticker, at this instant. */
  async #marks(books: ReadonlyMap<number, Book>, fresh: readonly Prepared[], et: { date: string; time: string }) {
    const tickers = new Set<string>();
    for (const book of books.values()) for (const p of book.held) tickers.add(p.ticker);
    for (const p of fresh) if (p.rejection === null && books.has(p.request.accountId)) tickers.add(p.request.ticker);
    const marks = new Map<string, Mark | string>();
    await Promise.all(
      [...tickers].map(async (ticker) => {
        try {
          marks.set(ticker, await this.#mark(ticker, et.date, et.time));
        } catch (error) {
          marks.set(ticker, messageOf(error));
        }
      }),
    );
    return marks;
  }

  /** Fills or rejects one new order against the books, and adds what it changes to `writes`. */
  #decide(p: Prepared, books: Map<number, Book>, marks: ReadonlyMap<string, Mark | string>, now: Date, writes: SubmissionWrites): Outcome {
    const { request, accepted } = p;
    const book = books.get(request.accountId);
    let decided: Fill | { rejected: string };
    if (p.rejection !== null) decided = { rejected: p.rejection };
    else if (!book) decided = { rejected: `unknown account ${request.accountId} in portfolio ${this.#portfolio}` };
    else
      decided = decideFill(
        { execution: this.#execution, maxGrossLeverage: this.#maxGrossLeverage, tolerance: this.#tolerance },
        {
          request,
          quote: p.quote as PriceQuote,
          cash: book.account.cash,
          held: book.held,
          markOf: (ticker) => marks.get(ticker) ?? `no mark for ${ticker}`,
        },
      );
    const base: OrderRow = {
      ...accepted,
      sequence: accepted.sequence ?? null,
      filledAt: null,
      filledQty: null,
      filledAvgPrice: null,
      commission: null,
      rejectReason: null,
      brokerOrderId: accepted.brokerOrderId ?? null,
    };
    const audit = (row: OrderRow, approximatePrice: boolean, detail: Record<string, unknown>) =>
      writes.events.push({
        idempotencyKey: eventKey(request.clientOrderId),
        portfolio: this.#portfolio,
        weekId: request.weekId,
        kind: EVENT_KIND,
        stage: request.checkpoint === 'weekly' ? 'execute' : 'checkpoint',
        payload: { broker: this.name, request, result: orderResultOf(row, approximatePrice, false), ...detail },
      });
    if ('rejected' in decided) {
      const row: OrderRow = { ...base, status: 'rejected', rejectReason: decided.rejected, filledQty: 0 };
      writes.orders.push(orderWrite(row));
      audit(row, false, { status: 'rejected', reason: decided.rejected, quote: p.quote });
      return { row, approximatePrice: false };
    }
    const quote = p.quote as PriceQuote;
    const b = book as Book;
    const f = decided;
    const row: OrderRow = {
      ...base,
      status: 'filled',
      filledAt: now,
      filledQty: f.qty,
      filledAvgPrice: f.price,
      commission: f.commission,
      brokerOrderId: `sim-${request.clientOrderId}`,
    };
    writes.orders.push(orderWrite(row));
    writes.fills.push({
      clientOrderId: request.clientOrderId,
      portfolio: this.#portfolio,
      accountId: request.accountId,
      ticker: request.ticker,
      side: request.side,
      qty: f.qty,
      price: f.price,
      commission: f.commission,
      filledAt: now,
    });
    // The audit event describes the order as this submission leaves it.
    audit(row, quote.approximate, {
      status: 'filled',
      quote,
      fill: { qty: f.qty, price: f.price, commission: f.commission, notional: f.notional, cashDelta: roundCash(f.cashDelta) },
      cash: { before: roundCash(b.account.cash), after: f.cashAfter },
      position: { before: f.q0, after: f.q1 },
    });
    // The books as the next order of the submission sees them.
    b.account = { ...b.account, cash: f.cashAfter };
    b.cashChanged = true;
    const others = b.held.filter((h) => h.ticker !== request.ticker);
    b.held = f.q1 === 0 ? others : [...others, { ticker: request.ticker, qty: f.q1, avgEntryPrice: f.avgEntryPrice }].sort(byTicker);
    b.changed.set(request.ticker, {
      portfolio: this.#portfolio,
      accountId: request.accountId,
      ticker: request.ticker,
      qty: f.q1,
      avgEntryPrice: f.avgEntryPrice,
      updatedAt: now,
    });
    return { row, approximatePrice: quote.approximate };
  }

  /** Accounts with their positions (by ticker) in one round trip; for reading, not for orders (see #lockBooks). */
  async #accountsWithPositions(
    db: Db,
    accountIds: readonly number[],
  ): Promise<Map<number, { account: AccountRow; positions: PositionRow[] }>> {
    const rows = await accountsJoinPositions(db, { portfolio: this.#portfolio, ids: [...accountIds] });
    const byId = new Map<number, { account: AccountRow; positions: PositionRow[] }>();
    for (const r of rows) {
      const account: AccountRow = {
        portfolio: r.portfolio,
        id: r.id,
        owner: r.owner,
        broker: r.broker,
        startingCash: r.startingCash,
        cash: r.cash,
        createdAt: r.createdAt,
      };
      const one = byId.get(r.id) ?? { account, positions: [] };
      // No position: the left join's columns are null (RowOf types them as the columns are, not null).
      if (r.ticker !== null && r.qty !== null && r.avgEntryPrice !== null && r.positionUpdatedAt !== null)
        one.positions.push({
          portfolio: r.portfolio,
          accountId: r.id,
          ticker: r.ticker,
          qty: r.qty,
          avgEntryPrice: r.avgEntryPrice,
          updatedAt: r.positionUpdatedAt,
        });
      byId.set(r.id, one);
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

/** The columns of an order row a submission sets. */
function orderWrite(row: OrderRow): OrderWrite {
  return {
    clientOrderId: row.clientOrderId,
    status: row.status,
    filledAt: row.filledAt,
    filledQty: row.filledQty ?? 0,
    filledAvgPrice: row.filledAvgPrice,
    commission: row.commission,
    rejectReason: row.rejectReason,
    brokerOrderId: row.brokerOrderId,
  };
}

function byTicker(a: HeldRow, b: HeldRow): number {
  return a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The accounts `ids` of a portfolio, locked for update in id order (see #lockBooks). */
const lockAccounts = reusableRows(getTableColumns(accounts), (db, $: Slots<{ portfolio: string; ids: number[] }>, fields) =>
  db
    .select(fields)
    .from(accounts)
    .where(and(eq(accounts.portfolio, $.portfolio), sql`${accounts.id} = any(${$.ids})`))
    .orderBy(asc(accounts.id))
    .for('update'),
);

const positionsOf = reusableRows(getTableColumns(positions), (db, $: Slots<{ portfolio: string; ids: number[] }>, fields) =>
  db
    .select(fields)
    .from(positions)
    .where(and(eq(positions.portfolio, $.portfolio), sql`${positions.accountId} = any(${$.ids})`)),
);

/** Accounts `ids` with their positions (one row per position, or one with null position columns), in account and ticker order. */
const accountsJoinPositions = reusableRows(
  {
    ...getTableColumns(accounts),
    ticker: positions.ticker,
    qty: positions.qty,
    avgEntryPrice: positions.avgEntryPrice,
    positionUpdatedAt: positions.updatedAt,
  },
  (db, $: Slots<{ portfolio: string; ids: number[] }>, fields) =>
    db
      .select(fields)
      .from(accounts)
      .leftJoin(positions, and(eq(positions.portfolio, accounts.portfolio), eq(positions.accountId, accounts.id)))
      .where(and(eq(accounts.portfolio, $.portfolio), sql`${accounts.id} = any(${$.ids})`))
      .orderBy(asc(accounts.id), asc(positions.ticker)),
);
