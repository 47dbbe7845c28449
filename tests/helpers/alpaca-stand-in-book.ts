import { randomUUID } from 'node:crypto';
import { roundCash, roundTo } from '../../src/broker/money.js';
import { utcToEt } from '../../src/market/calendar.js';

/**
 * The books of the Alpaca stand-in: accounts (one per key pair), positions, orders and fills, and the
 * exact JSON Alpaca sends for them (every amount a decimal string). No HTTP here; alpaca-stand-in.ts
 * routes requests to these methods.
 *
 * Orders follow Alpaca's documented behaviour:
 *   - market `day`: fills at once at the symbol's price when the market is open; accepted while closed
 *     and filled at the next open (Alpaca queues it for the next session).
 *   - `opg`: accepted while the market is closed, filled by open(); refused while it is open (Alpaca
 *     refuses OPG orders between 9:28 and 19:00 ET).
 *   - `cls`: accepted any time (the stand-in does not model the 15:50 cut-off), filled by close().
 *   - limit: fills when marketable (buy at or below, sell at or above the limit) at one of those moments.
 *   - at close() every open day order that did not fill expires; opg orders left after open() expire.
 *   - a scripted partial fill (partialFill) fills only part of an order, leaving it partially_filled
 *     until fillRemaining().
 * Refusals, with Alpaca's status, code and message (those marked ≈ are our wording of a rule Alpaca
 * enforces, its exact text unknown here):
 *   422 40010001 "client_order_id must be unique" — also after the order was cancelled or filled;
 *   403 40310000 "insufficient buying power" (buying power = equity − gross exposure: no margin);
 *   403 40310000 "insufficient qty available for order (requested: q, available: a)" — a sell larger
 *     than a long position (flipping long → short takes two orders);
 *   422 ≈ fractional short sales, fractional/notional orders that are not market day orders, opg while open.
 */

export interface StandInAccountInit {
  keyId: string;
  secretKey: string;
  /** Starting cash, default 100 000. */
  cash?: number;
  /** Every request with these keys answers 403 {"message":"forbidden."} (keys without permission). */
  forbidden?: boolean;
}

export interface Position {
  qty: number;
  avgEntry: number;
}

export interface Order {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  type: 'market' | 'limit';
  timeInForce: string;
  qty: number | null;
  notional: number | null;
  limitPrice: number | null;
  status: string;
  filledQty: number;
  filledAvgPrice: number | null;
  createdAt: number;
  updatedAt: number;
  submittedAt: number;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  positionIntent: string;
  /** Scripted: the next fill of this order fills at most this many shares. */
  partialNext: number | null;
}

export interface Account {
  id: string;
  accountNumber: string;
  keyId: string;
  secretKey: string;
  forbidden: boolean;
  cash: number;
  createdAt: number;
  positions: Map<string, Position>;
  orders: Order[];
  /** Every client_order_id ever used: Alpaca never releases one, not after a cancel either. */
  clientOrderIds: Set<string>;
  /** Equity at the last close (Alpaca's last_equity): the starting cash until the first close(). */
  lastEquity: number;
  /** The equity at each close() (the portfolio history's 1D points), by New York session date. */
  closes: { date: string; equity: number }[];
}

/** An answer the stand-in sends: status, JSON body (undefined for none). */
export interface Answer {
  status: number;
  body?: unknown;
}

export interface Refusal extends Answer {
  refused: true;
}

export interface Market {
  /** Current simulated instant (ms). */
  now(): number;
  isOpen(): boolean;
  price(symbol: string): number | undefined;
  previousClose(symbol: string): number | undefined;
}

const OPEN_STATUSES = new Set(['new', 'accepted', 'partially_filled', 'pending_new', 'accepted_for_bidding', 'held']);
const QTY_DECIMALS = 9;

/** Alpaca-style decimal string: no exponent, no trailing zeros. */
export function dec(value: number, decimals = QTY_DECIMALS): string {
  const fixed = roundTo(value, decimals).toFixed(decimals);
  const trimmed = fixed.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}

/** Alpaca's order timestamps: UTC with nanoseconds, e.g. 2023-12-12T22:31:24.668464435Z. */
export function nanoIso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '464435Z');
}

function refuse(status: number, code: number, message: string, extra: Record<string, unknown> = {}): Refusal {
  return { refused: true, status, body: { ...extra, code, message } };
}

function isWhole(n: number): boolean {
  return Math.abs(n - Math.round(n)) < 1e-9;
}

export class Book {
  readonly accounts: Account[] = [];
  private readonly assetIds = new Map<string, string>();
  /** Partial fills scripted before the order exists: client_order_id → shares of its first fill. */
  private readonly scriptedPartials = new Map<string, number>();

  constructor(private readonly market: Market) {}

  addAccount(init: StandInAccountInit): Account {
    const account: Account = {
      id: randomUUID(),
      accountNumber: `PA${String(this.accounts.length + 1).padStart(10, '0')}`,
      keyId: init.keyId,
      secretKey: init.secretKey,
      forbidden: init.forbidden ?? false,
      cash: init.cash ?? 100_000,
      createdAt: this.market.now(),
      positions: new Map(),
      orders: [],
      clientOrderIds: new Set(),
      lastEquity: init.cash ?? 100_000,
      closes: [],
    };
    this.accounts.push(account);
    return account;
  }

  byKeyId(keyId: string): Account | undefined {
    return this.accounts.find((a) => a.keyId === keyId);
  }

  order(account: Account, clientOrderId: string): Order | undefined {
    return account.orders.find((o) => o.clientOrderId === clientOrderId);
  }

  // ------------------------------------------------------------------------------------------ money

  private mark(symbol: string, fallback: number): number {
    return this.market.price(symbol) ?? fallback;
  }

  private values(account: Account): { long: number; short: number; equity: number; gross: number } {
    let long = 0;
    let short = 0;
    for (const [symbol, p] of account.positions) {
      const value = p.qty * this.mark(symbol, p.avgEntry);
      if (value >= 0) long += value;
      else short += value;
    }
    const equity = account.cash + long + short;
    return { long, short, equity, gross: long - short };
  }

  buyingPower(account: Account): number {
    const { equity, gross } = this.values(account);
    return Math.max(0, roundCash(equity - gross));
  }

  // ------------------------------------------------------------------------------------------ orders

  /** POST /v2/orders, after the spec check: Alpaca's own rules, then the order (filled if it can be). */
  submit(account: Account, body: Record<string, unknown>): Answer {
    const clientOrderId = typeof body.client_order_id === 'string' ? body.client_order_id : randomUUID();
    if (account.clientOrderIds.has(clientOrderId)) return refuse(422, 40010001, 'client_order_id must be unique');
    const symbol = String(body.symbol ?? '');
    const side = body.side === 'sell' ? 'sell' : 'buy';
    const type = body.type === 'limit' ? 'limit' : 'market';
    const tif = String(body.time_in_force);
    const qty = body.qty === undefined ? null : Number(body.qty);
    const notional = body.notional === undefined ? null : Number(body.notional);
    const limitPrice = body.limit_price === undefined ? null : Number(body.limit_price);

    if (body.type !== 'market' && body.type !== 'limit')
      return refuse(422, 40010001, `order type ${String(body.type)} is not supported by the stand-in`);
    const price = this.market.price(symbol);
    if (price === undefined) return refuse(422, 40010001, `asset "${symbol}" not found`);
    if ((qty === null) === (notional === null)) return refuse(422, 40010001, 'qty or notional is required, not both');
    if (qty !== null && !(qty > 0)) return refuse(422, 40010001, 'qty must be > 0');
    if (notional !== null && !(notional > 0)) return refuse(422, 40010001, 'notional must be > 0');
    if (notional !== null && (type !== 'market' || tif !== 'day'))
      return refuse(422, 42210000, 'notional orders must be market orders with time_in_force day');
    const fractional = qty !== null && !isWhole(qty);
    if (fractional && tif !== 'day') return refuse(422, 42210000, 'fractional orders must be DAY orders');
    if (type === 'limit' && (limitPrice === null || !(limitPrice > 0)))
      return refuse(422, 40010001, 'limit_price is required for limit orders');
    if (type === 'market' && limitPrice !== null) return refuse(422, 40010001, 'limit_price is not allowed for market orders');
    if (limitPrice !== null && !isWhole(roundTo(limitPrice * (limitPrice >= 1 ? 100 : 10_000), 6))) {
      return refuse(422, 42210000, `invalid limit_price ${dec(limitPrice)}. sub-penny increment does not fulfill minimum pricing criteria`);
    }
    if (tif === 'opg' && this.market.isOpen()) return refuse(422, 42210000, 'opg orders are not accepted while the market is open');

    const held = account.positions.get(symbol)?.qty ?? 0;
    const estimate = qty ?? notional! / price;
    let positionIntent: string;
    if (side === 'sell') {
      if (held > 0 && estimate > held + 1e-9) {
        return refuse(403, 40310000, `insufficient qty available for order (requested: ${dec(estimate)}, available: ${dec(held)})`);
      }
      const opensShort = held <= 0;
      if (opensShort && (fractional || notional !== null)) return refuse(422, 42210000, 'fractional orders cannot be sold short');
      positionIntent = opensShort ? 'sell_to_open' : 'sell_to_close';
    } else {
      positionIntent = held < 0 ? 'buy_to_close' : 'buy_to_open';
    }
    const addsRisk = positionIntent === 'buy_to_open' || positionIntent === 'sell_to_open';
    const cost = roundCash(estimate * (limitPrice ?? price));
    const buyingPower = this.buyingPower(account);
    if (addsRisk && cost > buyingPower) {
      return refuse(403, 40310000, 'insufficient buying power', { buying_power: dec(buyingPower, 2), cost_basis: dec(cost, 2) });
    }

    const now = this.market.now();
    const order: Order = {
      id: randomUUID(),
      clientOrderId,
      symbol,
      side,
      type,
      timeInForce: tif,
      qty,
      notional,
      limitPrice,
      status: this.market.isOpen() ? 'new' : 'accepted',
      filledQty: 0,
      filledAvgPrice: null,
      createdAt: now,
      updatedAt: now,
      submittedAt: now,
      filledAt: null,
      canceledAt: null,
      expiredAt: null,
      positionIntent,
      partialNext: this.scriptedPartials.get(clientOrderId) ?? null,
    };
    this.scriptedPartials.delete(clientOrderId);
    account.clientOrderIds.add(clientOrderId);
    account.orders.push(order);
    if (this.market.isOpen() && (tif === 'day' || tif === 'gtc')) this.tryFill(account, order);
    return { status: 200, body: this.orderJson(order) };
  }

  /** DELETE /v2/positions/{symbol}: a market order for all, `percentage` or `qty` of the position. */
  closePosition(account: Account, symbol: string, query: { percentage?: string; qty?: string }): Answer {
    const position = account.positions.get(symbol);
    if (!position || position.qty === 0) return refuse(404, 40410000, 'position does not exist');
    const held = Math.abs(position.qty);
    let qty = held;
    if (query.percentage !== undefined && query.qty !== undefined)
      return refuse(422, 40010001, 'only one of qty or percentage may be given');
    if (query.percentage !== undefined) {
      const pct = Number(query.percentage);
      if (!(pct > 0 && pct <= 100)) return refuse(422, 40010001, 'percentage must be between 0 and 100');
      // "Would only sell fractional if position is originally fractional" (spec).
      qty = isWhole(held) ? Math.floor((held * pct) / 100 + 1e-9) : roundTo((held * pct) / 100, QTY_DECIMALS);
    } else if (query.qty !== undefined) {
      qty = Number(query.qty);
      if (qty > held + 1e-9)
        return refuse(403, 40310000, `insufficient qty available for order (requested: ${dec(qty)}, available: ${dec(held)})`);
    }
    if (!(qty > 0)) return refuse(422, 40010001, 'qty must be > 0');
    return this.submit(account, {
      symbol,
      side: position.qty > 0 ? 'sell' : 'buy',
      type: 'market',
      time_in_force: 'day',
      qty: dec(qty),
      client_order_id: randomUUID(),
    });
  }

  cancel(account: Account, orderId: string): Answer {
    const order = account.orders.find((o) => o.id === orderId);
    if (!order) return refuse(404, 40410000, 'order not found');
    if (!OPEN_STATUSES.has(order.status)) return refuse(422, 42210000, `order is already in "${order.status}" state`);
    order.status = 'canceled';
    order.canceledAt = order.updatedAt = this.market.now();
    return { status: 204 };
  }

  // ------------------------------------------------------------------------------------------ fills

  /** The market opened: opg orders and orders queued while closed fill; opg orders that cannot, expire. */
  onOpen(): void {
    for (const account of this.accounts) {
      for (const order of account.orders.filter((o) => OPEN_STATUSES.has(o.status))) {
        if (order.timeInForce === 'cls') continue;
        if (order.status === 'accepted') order.status = 'new';
        this.tryFill(account, order);
        if (order.timeInForce === 'opg' && OPEN_STATUSES.has(order.status)) this.expire(order);
      }
    }
  }

  /** The closing auction: cls orders fill; every order still open that is not gtc expires. */
  onClose(): void {
    for (const account of this.accounts) {
      for (const order of account.orders.filter((o) => OPEN_STATUSES.has(o.status))) {
        if (order.timeInForce === 'cls') this.tryFill(account, order);
        if (OPEN_STATUSES.has(order.status) && order.timeInForce !== 'gtc') this.expire(order);
      }
      account.lastEquity = roundCash(this.values(account).equity);
      const date = utcToEt(new Date(this.market.now())).date;
      account.closes = [...account.closes.filter((c) => c.date !== date), { date, equity: account.lastEquity }];
    }
  }

  /**
   * Script: the next fill of this order (of the order that will have this id, when it does not exist
   * yet) fills at most `qty` shares, leaving it partially_filled.
   */
  partialFill(account: Account, clientOrderId: string, qty: number): void {
    const order = this.order(account, clientOrderId);
    if (!order) {
      this.scriptedPartials.set(clientOrderId, qty);
      return;
    }
    order.partialNext = qty;
    if (OPEN_STATUSES.has(order.status) && this.market.isOpen() && (order.timeInForce === 'day' || order.timeInForce === 'gtc')) {
      this.tryFill(account, order);
    }
  }

  /** Fill what is left of a partially filled order at the current price. */
  fillRemaining(account: Account, clientOrderId: string): void {
    const order = this.order(account, clientOrderId);
    if (!order) throw new Error(`stand-in: no order ${clientOrderId}`);
    order.partialNext = null;
    this.tryFill(account, order, true);
  }

  private expire(order: Order): void {
    order.status = 'expired';
    order.expiredAt = order.updatedAt = this.market.now();
  }

  private tryFill(account: Account, order: Order, force = false): void {
    const price = this.market.price(order.symbol);
    if (price === undefined) return;
    if (!force && order.limitPrice !== null && (order.side === 'buy' ? price > order.limitPrice : price < order.limitPrice)) return;
    const total = order.qty ?? roundTo(order.notional! / price, QTY_DECIMALS);
    let fill = roundTo(total - order.filledQty, QTY_DECIMALS);
    if (order.partialNext !== null) {
      fill = Math.min(fill, order.partialNext);
      order.partialNext = null;
    }
    if (!(fill > 0)) return;
    const signed = order.side === 'buy' ? fill : -fill;
    account.cash = roundCash(account.cash - signed * price);
    const position = account.positions.get(order.symbol) ?? { qty: 0, avgEntry: price };
    const after = roundTo(position.qty + signed, QTY_DECIMALS);
    if (after === 0) account.positions.delete(order.symbol);
    else if (Math.sign(after) !== Math.sign(position.qty) || position.qty === 0)
      account.positions.set(order.symbol, { qty: after, avgEntry: price });
    else if (Math.abs(after) > Math.abs(position.qty)) {
      const avgEntry = (position.avgEntry * Math.abs(position.qty) + price * fill) / Math.abs(after);
      account.positions.set(order.symbol, { qty: after, avgEntry: roundTo(avgEntry, 6) });
    } else account.positions.set(order.symbol, { qty: after, avgEntry: position.avgEntry });

    const filledBefore = order.filledQty;
    order.filledQty = roundTo(filledBefore + fill, QTY_DECIMALS);
    order.filledAvgPrice = roundTo(((order.filledAvgPrice ?? 0) * filledBefore + price * fill) / order.filledQty, 6);
    order.updatedAt = this.market.now();
    if (order.filledQty + 1e-9 >= total) {
      order.status = 'filled';
      order.filledAt = order.updatedAt;
    } else order.status = 'partially_filled';
  }

  // ------------------------------------------------------------------------------------------ JSON

  private assetId(symbol: string): string {
    let id = this.assetIds.get(symbol);
    if (!id) this.assetIds.set(symbol, (id = randomUUID()));
    return id;
  }

  orderJson(o: Order): Record<string, unknown> {
    const at = (ms: number | null) => (ms === null ? null : nanoIso(ms));
    return {
      id: o.id,
      client_order_id: o.clientOrderId,
      created_at: nanoIso(o.createdAt),
      updated_at: nanoIso(o.updatedAt),
      submitted_at: nanoIso(o.submittedAt),
      filled_at: at(o.filledAt),
      expired_at: at(o.expiredAt),
      canceled_at: at(o.canceledAt),
      failed_at: null,
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: this.assetId(o.symbol),
      symbol: o.symbol,
      asset_class: 'us_equity',
      notional: o.notional === null ? null : dec(o.notional, 2),
      qty: o.qty === null ? null : dec(o.qty),
      filled_qty: dec(o.filledQty),
      filled_avg_price: o.filledAvgPrice === null ? null : dec(o.filledAvgPrice, 6),
      order_class: '',
      order_type: o.type,
      type: o.type,
      side: o.side,
      position_intent: o.positionIntent,
      time_in_force: o.timeInForce,
      limit_price: o.limitPrice === null ? null : dec(o.limitPrice, 4),
      stop_price: null,
      status: o.status,
      extended_hours: false,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
      subtag: null,
      source: null,
    };
  }

  positionJson(symbol: string, p: Position): Record<string, unknown> {
    const price = this.mark(symbol, p.avgEntry);
    const lastday = this.market.previousClose(symbol) ?? price;
    const marketValue = p.qty * price;
    const costBasis = p.qty * p.avgEntry;
    const pl = marketValue - costBasis;
    const intraday = p.qty * (price - lastday);
    return {
      asset_id: this.assetId(symbol),
      symbol,
      exchange: 'ARCA',
      asset_class: 'us_equity',
      asset_marginable: true,
      qty: dec(p.qty),
      qty_available: dec(p.qty),
      avg_entry_price: dec(p.avgEntry, 6),
      side: p.qty < 0 ? 'short' : 'long',
      market_value: dec(marketValue, 2),
      cost_basis: dec(costBasis, 2),
      unrealized_pl: dec(pl, 2),
      unrealized_plpc: dec(costBasis === 0 ? 0 : pl / Math.abs(costBasis), 16),
      unrealized_intraday_pl: dec(intraday, 2),
      unrealized_intraday_plpc: dec(lastday === 0 ? 0 : (price - lastday) / lastday, 16),
      current_price: dec(price, 6),
      lastday_price: dec(lastday, 6),
      change_today: dec(lastday === 0 ? 0 : (price - lastday) / lastday, 16),
    };
  }

  accountJson(a: Account): Record<string, unknown> {
    const { long, short, equity } = this.values(a);
    const buyingPower = dec(this.buyingPower(a), 2);
    return {
      id: a.id,
      admin_configurations: {},
      user_configurations: null,
      account_number: a.accountNumber,
      status: 'ACTIVE',
      crypto_status: 'ACTIVE',
      options_approved_level: 0,
      options_trading_level: 0,
      currency: 'USD',
      buying_power: buyingPower,
      regt_buying_power: buyingPower,
      daytrading_buying_power: '0',
      effective_buying_power: buyingPower,
      non_marginable_buying_power: buyingPower,
      options_buying_power: buyingPower,
      bod_dtbp: 0, // a JSON number, as in the spec's example (the other amounts are strings)
      cash: dec(a.cash, 2),
      accrued_fees: '0',
      portfolio_value: dec(equity, 2),
      pattern_day_trader: false,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      created_at: nanoIso(a.createdAt),
      trade_suspended_by_user: false,
      multiplier: '1',
      shorting_enabled: true,
      equity: dec(equity, 2),
      last_equity: dec(a.lastEquity, 2),
      long_market_value: dec(long, 2),
      short_market_value: dec(short, 2),
      position_market_value: dec(long - short, 2),
      initial_margin: '0',
      maintenance_margin: '0',
      last_maintenance_margin: '0',
      sma: '0',
      daytrade_count: 0,
      balance_asof: new Date(this.market.now()).toISOString().slice(0, 10),
      crypto_tier: 0,
      intraday_adjustments: '0',
      pending_reg_taf_fees: '0',
    };
  }
}
