/**
 * The Alpaca broker in sub-ledger mode: one key pair (APCA_API_KEY_ID / APCA_API_SECRET_KEY), one
 * paper account, and the six accounts are sub-ledgers of it — books the ledger keeps (accounts, orders,
 * fills, positions, the 'order:<id>' event) exactly as for the other brokers, which Alpaca never sees
 * one by one. Alpaca does not readily give one user six paper accounts; this mode needs one.
 *
 * An execution (submitOrders: every account's orders of one checkpoint) is netted per ticker
 * (subledger/netting.ts) and sent as one order per ticker — two when the net goes through Alpaca's
 * position (close, then open). Each account order keeps its own client_order_id and ledger row
 * (accepted → filled/canceled/rejected). The net order's fill (Alpaca's filled_qty at its
 * filled_avg_price, the legs' volume-weighted average) is allocated back to the members
 * (subledger/allocation.ts): pro rata, whole shares, the crossing side in full, any remainder stated.
 * Members that net to zero send nothing: they cross each other at Alpaca's latest trade (iex feed) once
 * the time they were meant for has come (the open for opg, the close for cls, at once for day) —
 * a modelled price, marked approximatePrice. Opposite positions (one sub-ledger LONG SPY, another
 * SHORT SPY) are netted at Alpaca and kept apart in the books.
 *
 * Idempotency: the net order's id is derived from its members' ids, and its record (subledger/events.ts,
 * 'net-order:<id>') is written before anything is sent. A re-run that plans the same orders finds the
 * record (or the members in the ledger) and looks the legs up at Alpaca by client_order_id before
 * sending; a 422 duplicate is answered by looking up. A run that died after sending finds its net
 * order on the next execution even when the new plan differs (recoverPending).
 *
 * Failures: the one key pair failing (or Alpaca unavailable, or an answer we cannot read) fails all six
 * accounts — each order comes back rejected, naming the mode, never a key, and is not recorded (a
 * re-run derives the same ids). A net order Alpaca refuses rejects all its members (recorded, with
 * Alpaca's reason). "Market closed" rejects the members as in the per-account mode.
 *
 * Alpaca is reached through AlpacaSubledgerApi (alpaca/trading-api.ts): the HTTP client (BROKER=alpaca)
 * or alpaca-mcp-server's tools (BROKER=alpaca-mcp, one server for the one key pair); the broker cannot
 * tell them apart.
 *
 * Starting cash: each sub-ledger starts with its configured share of the paper account's equity
 * (config `subledgers.starting_shares`, equal sixths by default); the cash no share hands out is the
 * unallocated part of the reconciliation (reconcile(), subledger/reconciliation.ts).
 */
import { and, count, eq } from 'drizzle-orm';
import { approximateFromEvent, orderResultOf } from '../ledger/orders.js';
import { portfolioTag } from '../portfolio/portfolio.js';
import type { AccountState, Broker, OrderRequest, OrderResult, Reconciliation } from '../ports/broker.js';
import type { Db, Tx } from '../storage/db.js';
import { accounts, events, fills, positions } from '../storage/schema.js';
import { UserError } from '../errors.js';
import { AlpacaLedger, dateOf, invalidRequest, type FinalState } from './alpaca-ledger.js';
import {
  alpacaFailure,
  alpacaWaits,
  awaitFinal,
  isAccountFailure,
  isOrderRefusal,
  orderTiming,
  type AlpacaTiming,
  type AlpacaWaitOptions,
  type AlpacaWaits,
} from './alpaca-orders.js';
import { DuplicateClientOrderIdError } from './alpaca/errors.js';
import type { AlpacaSubledgerApi } from './alpaca/trading-api.js';
import type { AlpacaClock, AlpacaOrder } from './alpaca/wire.js';
import { roundCash, roundPrice, roundQty } from './money.js';
import { allocate } from './subledger/allocation.js';
import {
  netOrderOfMember,
  netOrdersIn,
  readNetOrder,
  readStart,
  writeNetOrder,
  latestReconciliation,
  writeReconciliation,
  writeStart,
  type NetOrder,
} from './subledger/events.js';
import { groupByTicker, legsOf, netOrderId, type NetGroup } from './subledger/netting.js';
import { reconcile } from './subledger/reconciliation.js';

export const SUBLEDGER_BROKER = 'alpaca-subledger';
/** How messages name the one paper account, never by its key: "Alpaca rejected the keys of account 1-6 (sub-ledgers of one paper account)". */
export const SUBLEDGER_ACCOUNT_LABEL = '1-6 (sub-ledgers of one paper account)';
const MODE = 'sub-ledger mode (one Alpaca paper account for all six accounts)';
const MAX_CLIENT_ORDER_ID = 128;

export class SubledgerError extends UserError {}

export interface SubledgerBrokerOptions extends AlpacaWaitOptions {
  db: Db;
  portfolio: string;
  /** The one key pair's account: the HTTP client (BROKER=alpaca) or alpaca-mcp-server's tools (BROKER=alpaca-mcp). */
  client: AlpacaSubledgerApi;
  /** Each account's share of the paper account's equity when its sub-ledger is created (default 1/6). */
  startingShares?: ReadonlyMap<number, number>;
}

type Results = Map<string, OrderResult>;

export class AlpacaSubledgerBroker implements Broker {
  readonly name = SUBLEDGER_BROKER;
  readonly #db: Db;
  readonly #portfolio: string;
  readonly #client: AlpacaSubledgerApi;
  readonly #shares: ReadonlyMap<number, number>;
  readonly #waits: AlpacaWaits;
  readonly #now: () => number;
  readonly #ledger: AlpacaLedger;

  constructor(options: SubledgerBrokerOptions) {
    this.#db = options.db;
    this.#portfolio = options.portfolio;
    this.#client = options.client;
    this.#shares = options.startingShares ?? new Map();
    this.#waits = alpacaWaits(options);
    this.#now = this.#waits.now;
    this.#ledger = new AlpacaLedger({ db: this.#db, portfolio: this.#portfolio, broker: this.name, now: this.#now });
  }

  /**
   * Creates the missing sub-ledgers, each with its share of the paper account's equity, and records the
   * unallocated cash once. Without Alpaca's equity nothing is created (a sub-ledger's starting cash
   * would be made up): the run stops with the reason.
   */
  async ensureAccounts(list: readonly { id: number; owner: string }[]): Promise<void> {
    const existing = new Set(
      (await this.#db.select({ id: accounts.id }).from(accounts).where(eq(accounts.portfolio, this.#portfolio))).map((r) => r.id),
    );
    const missing = list.filter((a) => !existing.has(a.id));
    if (missing.length === 0) return;
    let acct;
    try {
      acct = await this.#client.getAccount();
    } catch (error) {
      throw new SubledgerError(
        `${MODE}: the sub-ledgers start from shares of the paper account's equity, which cannot be read (${alpacaFailure(error)}); nothing was created`,
      );
    }
    if (!(acct.equity > 0)) throw new SubledgerError(`${MODE}: the paper account's equity is ${acct.equity}; nothing was created`);
    for (const a of missing) {
      const cash = roundCash(acct.equity * (this.#shares.get(a.id) ?? 1 / 6));
      await this.#db
        .insert(accounts)
        .values({ portfolio: this.#portfolio, id: a.id, owner: a.owner, broker: this.name, startingCash: cash, cash })
        .onConflictDoNothing({ target: [accounts.portfolio, accounts.id] });
    }
    const rows = await this.#db.select().from(accounts).where(eq(accounts.portfolio, this.#portfolio));
    const starting = Object.fromEntries(rows.map((r) => [String(r.id), r.startingCash]));
    const handedOut = rows.reduce((sum, r) => sum + r.startingCash, 0);
    await writeStart(this.#db, this.#portfolio, {
      alpaca_cash: acct.cash,
      alpaca_equity: acct.equity,
      starting_cash: starting,
      unallocated_cash: roundCash(acct.cash - handedOut),
    });
  }

  async account(accountId: number): Promise<AccountState> {
    const [state] = await this.accounts([accountId]);
    return state!;
  }

  /** The sub-ledgers' books marked at Alpaca's prices (its positions' current price, else its latest trade). */
  async accounts(accountIds: readonly number[]): Promise<AccountState[]> {
    const held = await this.#db.select({ ticker: positions.ticker }).from(positions).where(eq(positions.portfolio, this.#portfolio));
    const marks = await this.#marks([...new Set(held.map((p) => p.ticker))]);
    const out: AccountState[] = [];
    for (const id of accountIds) {
      const state = await this.#ledger.account(id, (t) => marks?.get(t), marks === null);
      if (!state) throw new SubledgerError(`account ${id} is not in portfolio ${this.#portfolio} (no sub-ledger yet)`);
      out.push(state);
    }
    return out;
  }

  async getOrder(clientOrderId: string): Promise<OrderResult | null> {
    const row = await this.#ledger.row(this.#db, clientOrderId);
    if (!row) return null;
    if (row.status === 'accepted') {
      const netId = await netOrderOfMember(this.#db, clientOrderId);
      const net = netId === null ? null : await readNetOrder(this.#db, netId);
      if (net) {
        try {
          const now = (await this.#advance(net)).get(clientOrderId);
          if (now) return now;
        } catch (error) {
          alpacaFailure(error);
        }
      }
    }
    return this.#resultOf(clientOrderId);
  }

  async submitOrder(request: OrderRequest): Promise<OrderResult> {
    const [result] = await this.submitOrders([request]);
    return result!;
  }

  async submitOrders(requests: readonly OrderRequest[]): Promise<OrderResult[]> {
    const results: Results = new Map();
    const fresh: OrderRequest[] = [];
    for (const request of requests) {
      const id = request.clientOrderId;
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CLIENT_ORDER_ID)
        throw new TypeError(`client_order_id must be 1..${MAX_CLIENT_ORDER_ID} characters, got ${JSON.stringify(id)}`);
      if (results.has(id) || fresh.some((r) => r.clientOrderId === id)) continue;
      const known = await this.#ledger.row(this.#db, id);
      if (known) {
        const now = known.status === 'accepted' ? await this.getOrder(id) : await this.#resultOf(id);
        results.set(id, { ...(now ?? orderResultOf(known, false, false)), duplicate: true });
        continue;
      }
      const invalid = invalidRequest(request) ?? wholeShares(request);
      if (invalid) results.set(id, await this.#ledger.rejected(request, invalid));
      else fresh.push(request);
    }
    await this.#recoverPending(new Set(fresh.map((r) => r.clientOrderId)));
    for (const group of groupByTicker(fresh)) for (const [id, r] of await this.#submitGroup(group)) results.set(id, r);
    return requests.map((r) => results.get(r.clientOrderId)!);
  }

  async awaitOrders(clientOrderIds: readonly string[]): Promise<OrderResult[]> {
    const settings = { timeoutMs: this.#waits.fillTimeoutMs, pollMs: this.#waits.pollMs, now: this.#now, sleep: this.#waits.sleep };
    return awaitFinal(clientOrderIds, (id) => this.getOrder(id), settings);
  }

  /**
   * The sum of the sub-ledgers against the paper account after an execution, stored (an event) and
   * returned. A net order a dead run left behind is taken forward first (its fills belong in the books).
   */
  async reconcile(context: { weekId: string; checkpoint: string }): Promise<Reconciliation> {
    await this.#recoverPending(new Set()).catch((error: unknown) => void alpacaFailure(error));
    const result = await this.compareNow(context);
    await writeReconciliation(this.#db, this.#portfolio, result);
    return result;
  }

  storedReconciliation(context: { weekId: string; checkpoint: string }): Promise<Reconciliation | null> {
    return latestReconciliation(this.#db, this.#portfolio, context);
  }

  /** The same comparison, now, without writing anything (`llm-trading accounts`). */
  async compareNow(context: { weekId: string; checkpoint: string }): Promise<Reconciliation> {
    const [rows, held, [fillCount], start, open] = await Promise.all([
      this.#db.select().from(accounts).where(eq(accounts.portfolio, this.#portfolio)),
      this.#db.select().from(positions).where(eq(positions.portfolio, this.#portfolio)),
      this.#db.select({ n: count() }).from(fills).where(eq(fills.portfolio, this.#portfolio)),
      readStart(this.#db, this.#portfolio),
      netOrdersIn(this.#db, this.#portfolio, ['sending', 'open']),
    ]);
    let broker: { cash: number; equity: number; positions: Record<string, number> } | null = null;
    let error: string | undefined;
    try {
      const [acct, list] = await Promise.all([this.#client.getAccount(), this.#client.listPositions()]);
      broker = { cash: acct.cash, equity: acct.equity, positions: Object.fromEntries(list.map((p) => [p.symbol, p.qty])) };
    } catch (e) {
      error = `${MODE}: ${alpacaFailure(e)}`;
    }
    const result = reconcile({
      at: new Date(this.#now()),
      weekId: context.weekId,
      checkpoint: context.checkpoint,
      books: {
        accounts: rows.map((a) => ({
          id: a.id,
          cash: a.cash,
          positions: Object.fromEntries(held.filter((p) => p.accountId === a.id).map((p) => [p.ticker, p.qty])),
        })),
        unallocatedCash: start?.unallocated_cash ?? 0,
        fills: fillCount?.n ?? 0,
      },
      broker,
      ...(error !== undefined ? { error } : {}),
      openOrders: open.map((n) => ({
        client_order_id: n.net_order,
        ticker: n.ticker,
        side: n.net > 0 ? ('buy' as const) : ('sell' as const),
        qty: Math.abs(n.net),
        filled_qty: n.alpaca.reduce((sum, a) => sum + a.filled_qty, 0),
      })),
    });
    if (!start) result.notes.push('no record of the sub-ledgers’ creation: the unallocated cash is taken as 0');
    return result;
  }

  // ------------------------------------------------------------------------------------------ net orders

  /** One ticker's orders of one execution: found again (a re-run), or netted and sent. */
  async #submitGroup(group: NetGroup): Promise<Results> {
    const netId = netOrderId(portfolioTag(this.#portfolio), group);
    const who = `accounts ${group.members.map((m) => m.accountId).join(', ')} (net order ${netId})`;
    try {
      let net = await readNetOrder(this.#db, netId);
      const again = net !== null && net.state !== 'unsent';
      if (!again) {
        const clock = await this.#client.getClock();
        const timing = orderTiming(clock, group.checkpoint, who);
        if ('refused' in timing) {
          const refused: Results = new Map();
          for (const m of group.members) refused.set(m.clientOrderId, await this.#ledger.rejected(m, timing.refused));
          return refused;
        }
        const held = group.net === 0 ? 0 : ((await this.#client.getPosition(group.ticker))?.qty ?? 0);
        const legs = legsOf(netId, group.net, held);
        net = {
          net_order: netId,
          ticker: group.ticker,
          week_id: group.weekId,
          checkpoint: group.checkpoint,
          net: group.net,
          time_in_force: timing.tif,
          fills_at: fillsAt(clock, timing.tif),
          members: group.members.map((m) => ({ ...m, type: 'market' as const })),
          legs: legs.map((l) => ({ client_order_id: l.clientOrderId, side: l.side, qty: l.qty, short: l.short })),
          state: legs.length > 0 ? 'sending' : 'open',
          refused: {},
          alpaca: [],
        };
        const opened = net;
        // An internal cross has nothing to send: its members are open until the time it fills.
        if (legs.length === 0) await this.#ledger.transaction((tx) => this.#open(tx, opened, null));
        else await writeNetOrder(this.#db, this.#portfolio, net);
      }
      if (again && net!.state === 'sending') net = await this.#retime(net!, who);
      const results = await this.#advance(net!);
      if (again) for (const [id, r] of results) results.set(id, { ...r, duplicate: true });
      return results;
    } catch (error) {
      const reason = `${MODE}: ${alpacaFailure(error)}; nothing recorded (a re-run finds the order at Alpaca if it was placed)`;
      return new Map(group.members.map((m) => [m.clientOrderId, this.#ledger.unrecorded(m, reason)]));
    }
  }

  /**
   * A net order recorded but not (all) sent when its process died, resent later: an opening-auction
   * order whose open has passed goes as a day order, which fills at once, as the per-account mode
   * does (Alpaca refuses opg orders while the market is open). Legs already at Alpaca stay as they are.
   */
  async #retime(net: NetOrder, who: string): Promise<NetOrder> {
    if (net.time_in_force !== 'opg') return net;
    const clock = await this.#client.getClock();
    const timing = orderTiming(clock, net.checkpoint, who);
    if ('refused' in timing || timing.tif === net.time_in_force) return net;
    const retimed: NetOrder = { ...net, time_in_force: timing.tif, fills_at: fillsAt(clock, timing.tif) };
    await writeNetOrder(this.#db, this.#portfolio, retimed);
    return retimed;
  }

  /** Takes a net order as far as it can go now: sent, open, or final and allocated. Its members' results. */
  async #advance(net: NetOrder): Promise<Results> {
    if (net.state === 'sending') return this.#send(net);
    if (net.state === 'open') {
      if (net.legs.length === 0) {
        const clock = await this.#client.getClock();
        if (Date.parse(clock.timestamp) >= Date.parse(net.fills_at)) {
          const trade = await this.#client.getLatestTrade(net.ticker);
          return this.#settle(net, [], { price: trade.price, source: `Alpaca latest trade (iex) at ${trade.timestamp}` });
        }
      } else {
        const orders = await this.#legOrders(net);
        if (orders.every((o) => o?.final === true)) return this.#settle(net, orders as AlpacaOrder[], null);
      }
    }
    return this.#membersNow(net);
  }

  /** Sends the legs not at Alpaca yet (each looked up first), then records the members as open. */
  async #send(net: NetOrder): Promise<Results> {
    const refused = { ...net.refused };
    const sent: AlpacaOrder[] = [];
    for (const leg of net.legs) {
      if (refused[leg.client_order_id] !== undefined) continue;
      let order = await this.#client.getOrderByClientOrderId(leg.client_order_id);
      if (!order) {
        const base = {
          symbol: net.ticker,
          type: 'market' as const,
          time_in_force: net.time_in_force,
          client_order_id: leg.client_order_id,
        };
        try {
          order = await this.#client.submitOrder(
            leg.side === 'buy' ? { ...base, side: 'buy', qty: leg.qty } : { ...base, side: 'sell', qty: leg.qty, short: leg.short },
          );
        } catch (error) {
          if (error instanceof DuplicateClientOrderIdError) {
            order = await this.#client.getOrderByClientOrderId(leg.client_order_id);
            if (!order) throw error;
          } else if (isOrderRefusal(error)) {
            refused[leg.client_order_id] = error.message;
            continue;
          } else throw error;
        }
      }
      // Through zero during the session: the opening leg goes once the closing one is done (Alpaca
      // refuses to open a short while the long it closes is still held). At an auction both legs go
      // together; if Alpaca refuses the second, its shares are refused for the members (partial fills).
      const done = net.time_in_force === 'day' && !order.final && net.legs.length > 1 ? (await this.#poll([order]))[0]! : order;
      sent.push(done);
    }
    const next: NetOrder = { ...net, refused };
    if (sent.length === 0) return this.#settle(next, [], null);
    await this.#ledger.transaction((tx) => this.#open(tx, next, sent));
    let orders = sent;
    if (net.time_in_force === 'day' && orders.some((o) => !o.final)) orders = await this.#poll(orders);
    if (orders.every((o) => o.final)) return this.#settle({ ...next, state: 'open' }, orders, null);
    return this.#membersNow(next);
  }

  /** Records the members as accepted (open at Alpaca, or waiting for their cross) with the net order open. */
  async #open(tx: Tx, net: NetOrder, sent: AlpacaOrder[] | null): Promise<void> {
    const now = new Date(this.#now());
    const first = sent?.[0] ?? null;
    const submittedAt = first ? dateOf(first.submittedAt ?? first.createdAt, now) : now;
    await writeNetOrder(tx, this.#portfolio, { ...net, state: 'open', alpaca: (sent ?? []).map(legView) });
    for (const m of net.members)
      await this.#ledger.accepted(tx, m, submittedAt, first?.id ?? null, { net_order: net.net_order, net: describeNet(net) });
  }

  /**
   * The net order is final: its fill (the legs' shares at their volume-weighted price, or an internal
   * cross at `cross.price`) is allocated to the members, all recorded in one transaction.
   */
  async #settle(net: NetOrder, orders: AlpacaOrder[], cross: { price: number; source: string } | null): Promise<Results> {
    const now = new Date(this.#now());
    const filledQty = roundQty(orders.reduce((sum, o) => sum + o.filledQty, 0));
    const vwap = filledQty > 0 ? roundPrice(orders.reduce((sum, o) => sum + o.filledQty * (o.filledAvgPrice ?? 0), 0) / filledQty) : null;
    const price = cross ? roundPrice(cross.price) : vwap;
    const allocation = allocate(net.members, filledQty);
    const lastFill = orders
      .map((o) => dateOf(o.filledAt ?? o.updatedAt, now))
      .reduce<Date | null>((a, b) => (a === null || b > a ? b : a), null);
    const filledAt = cross ? new Date(net.fills_at) : (lastFill ?? now);
    const first = orders[0] ?? null;
    const submittedAt = first ? dateOf(first.submittedAt ?? first.createdAt, now) : now;
    const refusals = Object.values(net.refused);
    const ended = orders.map((o) => o.status).filter((s) => s !== 'filled');
    const endedAs = refusals.length > 0 || ended.includes('rejected') ? 'rejected' : 'canceled';
    const summary = describeNet(net);
    const atAlpaca = cross
      ? `crossed internally at ${price} (${cross.source}; no order at Alpaca)`
      : `${filledQty} of ${Math.abs(net.net)} filled at Alpaca${vwap !== null ? ` at ${vwap}` : ''}${ended.length > 0 ? `, the rest ${[...new Set(ended)].join('/')}` : ''}${refusals.length > 0 ? `; refused: ${refusals.join('; ')}` : ''}`;
    const remainder = allocation.remainder > 0 ? `; ${allocation.remainder} shares unallocated (whole shares only)` : '';
    const final: NetOrder = {
      ...net,
      state: 'final',
      alpaca: orders.map(legView),
      allocation: {
        filled_qty: filledQty,
        avg_price: price,
        price_source: cross ? cross.source : 'Alpaca filled_avg_price (volume-weighted over the legs)',
        approximate: cross !== null,
        shares: Object.fromEntries(allocation.filled),
        remainder: allocation.remainder,
      },
    };
    return this.#ledger.transaction(async (tx) => {
      const results: Results = new Map();
      for (const m of net.members) {
        const qty = allocation.filled.get(m.clientOrderId) ?? 0;
        let state: FinalState;
        if (qty > 0 && price !== null) {
          const partial =
            qty < m.qty ? `partially filled: ${qty} of ${m.qty} shares (pro rata share of ${summary}: ${atAlpaca}${remainder})` : null;
          state = {
            status: 'filled',
            filledQty: qty,
            price,
            filledAt,
            reason: partial,
            brokerOrderId: first?.id ?? null,
            approximatePrice: cross !== null,
          };
        } else {
          const why =
            filledQty > 0
              ? `0 of ${m.qty} shares: its pro rata share of ${summary} rounds to none (${atAlpaca})`
              : `${summary}: ${atAlpaca}`;
          state = {
            status: filledQty > 0 ? 'canceled' : endedAs,
            filledQty: 0,
            price: null,
            filledAt,
            reason: why,
            brokerOrderId: first?.id ?? null,
          };
        }
        const detail = {
          net_order: net.net_order,
          net: summary,
          allocation: { shares: qty, at_alpaca: atAlpaca, remainder: allocation.remainder },
        };
        results.set(m.clientOrderId, await this.#ledger.final(tx, m, submittedAt, state, detail));
      }
      await writeNetOrder(tx, this.#portfolio, final);
      return results;
    });
  }

  /** Alpaca's legs of the net order now (a leg Alpaca does not show yet counts as still open: null). */
  async #legOrders(net: NetOrder): Promise<(AlpacaOrder | null)[]> {
    const out: (AlpacaOrder | null)[] = [];
    for (const leg of net.legs)
      if (net.refused[leg.client_order_id] === undefined) out.push(await this.#client.getOrderByClientOrderId(leg.client_order_id));
    return out;
  }

  async #poll(first: AlpacaOrder[]): Promise<AlpacaOrder[]> {
    const deadline = this.#now() + this.#waits.orderWaitMs;
    let orders = first;
    while (orders.some((o) => !o.final) && this.#now() < deadline) {
      await this.#waits.sleep(Math.min(this.#waits.pollMs, Math.max(0, deadline - this.#now())));
      const next: AlpacaOrder[] = [];
      for (const o of orders) next.push(o.final ? o : ((await this.#client.getOrderByClientOrderId(o.clientOrderId)) ?? o));
      orders = next;
    }
    return orders;
  }

  /**
   * Net orders a run left 'sending' (it died between writing the record and recording the members):
   * one whose legs Alpaca has is taken forward (its members recorded, like any duplicate); one Alpaca
   * never got is marked unsent, so its members are simply planned again. Those whose members are in
   * the batch at hand are left to it.
   */
  async #recoverPending(inBatch: ReadonlySet<string>): Promise<void> {
    for (const net of await netOrdersIn(this.#db, this.#portfolio, ['sending'])) {
      if (net.members.some((m) => inBatch.has(m.clientOrderId))) continue;
      let atAlpaca = false;
      for (const leg of net.legs) if (await this.#client.getOrderByClientOrderId(leg.client_order_id)) atAlpaca = true;
      if (atAlpaca) await this.#send(net);
      else await writeNetOrder(this.#db, this.#portfolio, { ...net, state: 'unsent' });
    }
  }

  async #membersNow(net: NetOrder): Promise<Results> {
    const results: Results = new Map();
    for (const m of net.members) {
      const r = await this.#resultOf(m.clientOrderId);
      if (r) results.set(m.clientOrderId, r);
    }
    return results;
  }

  /** An order as the ledger has it, its approximatePrice read from its event. */
  async #resultOf(clientOrderId: string): Promise<OrderResult | null> {
    const row = await this.#ledger.row(this.#db, clientOrderId);
    if (!row) return null;
    const [event] = await this.#db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.idempotencyKey, `order:${clientOrderId}`)));
    return orderResultOf(row, row.status === 'filled' && approximateFromEvent(row.status, event?.payload), false);
  }

  /** Prices of `tickers` at Alpaca now: its positions' current price, else the latest trade; null when Alpaca cannot be read. */
  async #marks(tickers: readonly string[]): Promise<Map<string, number> | null> {
    const marks = new Map<string, number>();
    if (tickers.length === 0) return marks;
    try {
      for (const p of await this.#client.listPositions()) if (p.currentPrice !== null) marks.set(p.symbol, p.currentPrice);
      for (const t of tickers) {
        if (marks.has(t)) continue;
        try {
          marks.set(t, (await this.#client.getLatestTrade(t)).price);
        } catch (error) {
          if (isAccountFailure(error)) throw error;
          alpacaFailure(error); // no trade for it: that position is marked at its entry price
        }
      }
      return marks;
    } catch (error) {
      alpacaFailure(error);
      return null;
    }
  }
}

/** When a net order of `tif` fills: the next open (opg), the session's close (cls), now (day). */
function fillsAt(clock: AlpacaClock, tif: AlpacaTiming): string {
  if (tif === 'opg') return new Date(clock.nextOpen).toISOString();
  if (tif === 'cls') return new Date(clock.nextClose).toISOString();
  return new Date(clock.timestamp).toISOString();
}

function describeNet(net: NetOrder): string {
  const members = net.members.map((m) => `account ${m.accountId} ${m.side} ${m.qty}`).join(', ');
  const side = net.net > 0 ? 'buy' : net.net < 0 ? 'sell' : 'cross';
  return `net order ${net.net_order} (${side} ${Math.abs(net.net)} ${net.ticker} for ${members})`;
}

function legView(o: AlpacaOrder): NetOrder['alpaca'][number] {
  return { client_order_id: o.clientOrderId, id: o.id, status: o.status, filled_qty: o.filledQty, filled_avg_price: o.filledAvgPrice };
}

/** Sub-ledger orders are whole shares: the net order may be a short sale, and opg/cls orders take no fractions. */
function wholeShares(request: OrderRequest): string | null {
  return Number.isInteger(request.qty) ? null : `${MODE} trades whole shares only, got ${request.qty}`;
}
