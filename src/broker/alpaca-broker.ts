/**
 * The Alpaca broker: each of the six accounts is its own Alpaca paper account (one key pair, one
 * AlpacaTradingApi: the HTTP client or alpaca-mcp-server), and every order it is sent is recorded in the same ledger tables the simulated broker
 * writes (orders, fills, positions, accounts cash, an 'order:<client_order_id>' event), so the
 * postmortem and backtests read one ledger whichever broker traded.
 *
 * Submitting (idempotent through the client_order_id of src/broker/order-plan.ts):
 *   1. the ledger already has the id → that order (duplicate=true); one still open at Alpaca is
 *      refreshed first (its fill recorded if it has one now);
 *   2. Alpaca already has the id (a run killed between submit and record) → that order, recorded now
 *      (duplicate=true); nothing is sent;
 *   3. else Alpaca's clock is read and the order is sent with the time in force its timing asks for
 *      (timeInForceOf): opg for the weekly execution and checkpoints before the open, cls at 15:50 and
 *      later, day during the session. Nothing is sent into a closed market unless it is meant for the
 *      next open (opg): a day or cls order then is rejected "market closed". An opg order whose open
 *      has passed (the market is open) is sent as a day market order, which fills at once.
 *      A 422 "client_order_id must be unique" is answered by looking the order up, never by resending.
 *   4. a day order is waited for (orderWaitMs) until it is final; opg/cls orders fill at an auction
 *      still to come, so they are recorded as accepted and `awaitOrders` waits for them (fillTimeoutMs).
 * A sell says `short: true` when it opens or adds to a short (its action, or Alpaca's position being
 * smaller than the sell): Alpaca takes whole shares only for those.
 *
 * Recording (alpaca-ledger.ts: the simulated broker's tables, one transaction per state change): when
 * Alpaca says the order is done, its fill is Alpaca's filled_qty at filled_avg_price, no commission.
 * Statuses: filled → filled; canceled/expired with shares filled →
 * filled with filledQty < qty (the reason says so); canceled/expired without → canceled; rejected →
 * rejected. A partial fill is recorded once the order is done (the ledger keeps one fill per order).
 *
 * Failures stay with their account: keys Alpaca refuses, an Alpaca that stays unavailable, an answer we
 * cannot read → the order comes back rejected with the reason (naming the account, never a key) and is
 * NOT recorded, so a re-run after the fix derives the same client_order_id and finds the order if it was
 * placed after all. Alpaca's refusals of the order itself (403 insufficient buying power, 422, an order
 * Alpaca rejects later) and "market closed" are recorded as rejected. `account()` of an account whose
 * keys fail answers from the ledger (cash, positions at their entry price, approximateMarks).
 */
import { and, eq } from 'drizzle-orm';
import { utcToEt } from '../market/calendar.js';
import type { AccountState, Broker, OrderRequest, OrderResult, Position } from '../ports/broker.js';
import type { Db } from '../storage/db.js';
import { accounts } from '../storage/schema.js';
import { orderResultOf } from '../ledger/orders.js';
import { AlpacaLedger, dateOf, invalidRequest, requestOfRow } from './alpaca-ledger.js';
import type { AlpacaTradingApi } from './alpaca/trading-api.js';
import { AlpacaConfigError, DuplicateClientOrderIdError } from './alpaca/errors.js';
import {
  alpacaFailure,
  alpacaWaits,
  awaitFinal,
  isAccountFailure,
  isOrderRefusal,
  mapAlpacaStatus,
  orderTiming,
  type AlpacaTiming,
  type AlpacaWaitOptions,
  type AlpacaWaits,
} from './alpaca-orders.js';
import type { SubmitOrderInput } from './alpaca/order-request.js';
import type { AlpacaOrder } from './alpaca/wire.js';
import { roundCash } from './money.js';

export interface AlpacaBrokerOptions extends AlpacaWaitOptions {
  db: Db;
  /** The portfolio whose books this broker keeps. */
  portfolio: string;
  /** One client (one key pair, one paper account) per account id: HTTP (AlpacaClient) or MCP (alpaca-mcp/). */
  clients: ReadonlyMap<number, AlpacaTradingApi>;
}

const MAX_CLIENT_ORDER_ID = 128;

export { CLOSE_AUCTION_FROM, mapAlpacaStatus, timeInForceOf, type AlpacaTiming } from './alpaca-orders.js';

export class AlpacaBroker implements Broker {
  readonly name = 'alpaca';
  readonly #db: Db;
  readonly #portfolio: string;
  readonly #clients: ReadonlyMap<number, AlpacaTradingApi>;
  readonly #waits: AlpacaWaits;
  readonly #now: () => number;
  readonly #ledger: AlpacaLedger;

  constructor(options: AlpacaBrokerOptions) {
    this.#db = options.db;
    this.#portfolio = options.portfolio;
    this.#clients = options.clients;
    this.#waits = alpacaWaits(options);
    this.#now = this.#waits.now;
    this.#ledger = new AlpacaLedger({ db: this.#db, portfolio: this.#portfolio, broker: this.name, now: this.#now });
  }

  /**
   * Records the accounts that are not in the ledger yet, each with Alpaca's equity as its starting cash
   * (the paper account is the account); an account whose keys fail gets `startingCash` (config).
   */
  async ensureAccounts(list: readonly { id: number; owner: string }[], startingCash: number): Promise<void> {
    for (const a of list) {
      const [existing] = await this.#db
        .select({ id: accounts.id })
        .from(accounts)
        .where(and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, a.id)));
      if (existing) continue;
      let cash = roundCash(startingCash);
      const client = this.#clients.get(a.id);
      if (client) {
        try {
          const equity = (await client.getAccount()).equity;
          if (equity > 0) cash = roundCash(equity);
        } catch (error) {
          alpacaFailure(error);
        }
      }
      await this.#db
        .insert(accounts)
        .values({ portfolio: this.#portfolio, id: a.id, owner: a.owner, broker: this.name, startingCash: cash, cash })
        .onConflictDoNothing({ target: [accounts.portfolio, accounts.id] });
    }
  }

  async dailyEquity(accountId: number, from: string): Promise<{ date: string; equity: number }[]> {
    const client = this.#clients.get(accountId);
    if (!client?.getDailyEquity) return [];
    const points = await client.getDailyEquity(from);
    return points.map((p) => ({ date: utcToEt(new Date(p.at)).date, equity: roundCash(p.equity) }));
  }

  async account(accountId: number): Promise<AccountState> {
    const [row] = await this.#db
      .select()
      .from(accounts)
      .where(and(eq(accounts.portfolio, this.#portfolio), eq(accounts.id, accountId)));
    const owner = row?.owner ?? `account ${accountId}`;
    const client = this.#clients.get(accountId);
    try {
      if (!client) throw new AlpacaConfigError(`no Alpaca key pair for account ${accountId}`);
      const [acct, held] = await Promise.all([client.getAccount(), client.listPositions()]);
      const out: Position[] = held
        .map((p) => {
          const price = p.currentPrice ?? p.avgEntryPrice;
          return {
            ticker: p.symbol,
            qty: p.qty,
            avgEntryPrice: p.avgEntryPrice,
            marketPrice: price,
            marketValue: p.marketValue ?? roundCash(p.qty * price),
            unrealizedPnl: p.unrealizedPl ?? roundCash(p.qty * (price - p.avgEntryPrice)),
          };
        })
        .sort((a, b) => a.ticker.localeCompare(b.ticker));
      return {
        accountId,
        owner,
        cash: roundCash(acct.cash),
        equity: roundCash(acct.equity),
        positions: out,
        markedAt: new Date(this.#now()).toISOString(),
        approximateMarks: held.some((p) => p.currentPrice === null),
        ...(acct.lastEquity !== null ? { lastEquity: roundCash(acct.lastEquity) } : {}),
      };
    } catch (error) {
      if (!isAccountFailure(error) || !row) throw error;
      return this.#ledgerAccount(accountId, owner, row.cash);
    }
  }

  async getOrder(clientOrderId: string): Promise<OrderResult | null> {
    const row = await this.#ledger.row(this.#db, clientOrderId);
    if (!row) return null;
    if (row.status !== 'accepted') return orderResultOf(row, false, false);
    const client = this.#clients.get(row.accountId);
    if (!client) return orderResultOf(row, false, false);
    try {
      const order = await client.getOrderByClientOrderId(clientOrderId);
      if (!order) return orderResultOf(row, false, false);
      return await this.#record(requestOfRow(row), order);
    } catch (error) {
      alpacaFailure(error);
      return orderResultOf(row, false, false);
    }
  }

  async submitOrder(request: OrderRequest): Promise<OrderResult> {
    const id = request.clientOrderId;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CLIENT_ORDER_ID)
      throw new TypeError(`client_order_id must be 1..${MAX_CLIENT_ORDER_ID} characters, got ${JSON.stringify(id)}`);
    const known = await this.#ledger.row(this.#db, id);
    if (known) {
      const now = known.status === 'accepted' ? await this.getOrder(id) : null;
      return { ...(now ?? orderResultOf(known, false, false)), duplicate: true };
    }
    const client = this.#clients.get(request.accountId);
    if (!client) return this.#unrecorded(request, `no Alpaca key pair for account ${request.accountId}`);
    const invalid = invalidRequest(request);
    if (invalid) return this.#recordRejected(request, invalid);
    try {
      // A run killed between submit and record left the order at Alpaca: find it, never resend.
      let order = await client.getOrderByClientOrderId(id);
      let duplicate = order !== null;
      if (!order) {
        const timing = orderTiming(await client.getClock(), request.checkpoint, `account ${request.accountId}`);
        if ('refused' in timing) return this.#recordRejected(request, timing.refused);
        const tif = timing.tif;
        const input = await this.#orderInput(client, request, tif);
        try {
          order = await client.submitOrder(input);
        } catch (error) {
          if (error instanceof DuplicateClientOrderIdError) {
            order = await client.getOrderByClientOrderId(id);
            if (!order) throw error;
            duplicate = !error.afterRetry;
          } else if (isOrderRefusal(error)) {
            return this.#recordRejected(request, `account ${request.accountId}: ${error.message}`);
          } else throw error;
        }
      }
      if (!order.final && order.timeInForce === 'day') order = await this.#poll(client, order, this.#waits.orderWaitMs);
      return { ...(await this.#record(request, order)), duplicate };
    } catch (error) {
      return this.#unrecorded(request, alpacaFailure(error));
    }
  }

  async awaitOrders(clientOrderIds: readonly string[]): Promise<OrderResult[]> {
    const settings = { timeoutMs: this.#waits.fillTimeoutMs, pollMs: this.#waits.pollMs, now: this.#now, sleep: this.#waits.sleep };
    return awaitFinal(clientOrderIds, (id) => this.getOrder(id), settings);
  }

  // ------------------------------------------------------------------------------------------ plumbing

  async #orderInput(client: AlpacaTradingApi, request: OrderRequest, tif: AlpacaTiming): Promise<SubmitOrderInput> {
    const base = { symbol: request.ticker, type: 'market' as const, time_in_force: tif, client_order_id: request.clientOrderId };
    if (request.side === 'buy') return { ...base, side: 'buy', qty: request.qty };
    // A sell opens or adds to a short when that is what it is for, or when Alpaca holds fewer shares.
    const increases = /^(open|add)-/.test(request.action);
    const held = increases ? 0 : ((await client.getPosition(request.ticker))?.qty ?? 0);
    const short = increases || held < request.qty - 1e-9;
    return { ...base, side: 'sell', qty: request.qty, short };
  }

  async #poll(client: AlpacaTradingApi, first: AlpacaOrder, waitMs: number): Promise<AlpacaOrder> {
    const deadline = this.#now() + waitMs;
    let order = first;
    while (!order.final && this.#now() < deadline) {
      await this.#waits.sleep(Math.min(this.#waits.pollMs, Math.max(0, deadline - this.#now())));
      order = (await client.getOrderByClientOrderId(order.clientOrderId)) ?? order;
    }
    return order;
  }

  async #ledgerAccount(accountId: number, owner: string, cash: number): Promise<AccountState> {
    return (
      (await this.#ledger.account(accountId, undefined, true)) ?? {
        accountId,
        owner,
        cash: roundCash(cash),
        equity: roundCash(cash),
        positions: [],
        markedAt: new Date(this.#now()).toISOString(),
        approximateMarks: true,
      }
    );
  }

  #unrecorded(request: OrderRequest, reason: string): OrderResult {
    return this.#ledger.unrecorded(request, reason);
  }

  #recordRejected(request: OrderRequest, reason: string): Promise<OrderResult> {
    return this.#ledger.rejected(request, reason);
  }

  /** Records Alpaca's view of the order: accepted (row + event), or final with its fill. Idempotent. */
  async #record(request: OrderRequest, order: AlpacaOrder): Promise<OrderResult> {
    const now = new Date(this.#now());
    const mapped = mapAlpacaStatus(order, request.qty);
    const alpaca = {
      id: order.id,
      status: order.status,
      time_in_force: order.timeInForce,
      filled_qty: order.filledQty,
      filled_avg_price: order.filledAvgPrice,
    };
    const submittedAt = dateOf(order.submittedAt ?? order.createdAt, now);
    return this.#ledger.transaction(async (tx) => {
      if (mapped.status === 'accepted') return this.#ledger.accepted(tx, request, submittedAt, order.id, { alpaca });
      const state = {
        status: mapped.status,
        filledQty: order.filledQty,
        price: order.filledAvgPrice,
        filledAt: dateOf(order.filledAt ?? order.updatedAt, now),
        reason: mapped.reason,
        brokerOrderId: order.id,
      };
      return this.#ledger.final(tx, request, submittedAt, state, { alpaca });
    });
  }
}
