/**
 * One Alpaca paper account through alpaca-mcp-server's tools (v2 names): the AlpacaTradingApi the
 * Alpaca broker trades through, the latest trade the sub-ledger broker also needs (AlpacaSubledgerApi,
 * get_stock_latest_trade), plus the bars of get_stock_bars. Answers are read into the same wire
 * types as the HTTP client's (../alpaca/wire.ts) and failures are the same errors (../alpaca/errors.ts),
 * so AlpacaBroker cannot tell the two apart.
 *
 * Tool arguments follow the server's schemas: the generated tools take the OpenAPI parameters by name
 * (get_order_by_client_id {client_order_id}, close_position {symbol_or_asset_id, qty?, percentage?},
 * get_calendar {start, end}, get_stock_latest_trade {symbols, feed?, currency?}); place_stock_order
 * takes the order's fields with decimals as strings (the body of order-request.ts, checked before
 * anything is sent). It has no `short` flag: Alpaca tells a
 * short sale from the account's position, and order-request.ts has already refused fractional shorts.
 *
 * Retries: reads are tried up to three times while Alpaca or the server is unavailable. An order is
 * sent once: after an ambiguous failure the broker does not record it, and the next run finds it by
 * its client_order_id (get_order_by_client_id) instead of sending it again; closing a position is
 * never repeated (a second "close 50%" would close half of the rest).
 */
import { ZodError } from 'zod';
import { isValidDate } from '../../market/calendar.js';
import type { BarsOptions, ClosePositionOptions, LatestFeed } from '../alpaca/client.js';
import { AlpacaError, AlpacaOrderValidationError, AlpacaUnavailableError } from '../alpaca/errors.js';
import { orderBody, type SubmitOrderInput } from '../alpaca/order-request.js';
import type { AlpacaSubledgerApi } from '../alpaca/trading-api.js';
import {
  parseAccount,
  parseBarsPage,
  parseCalendar,
  parseClock,
  parseLatestTrades,
  parseOrder,
  parsePositions,
  type AlpacaAccount,
  type AlpacaBar,
  type AlpacaCalendarDay,
  type AlpacaClock,
  type AlpacaOrder,
  type AlpacaPosition,
  type AlpacaTrade,
} from '../alpaca/wire.js';
import { listOf, payloadOf, protocolError, type ToolCallContext } from './result.js';

/** The tools the per-account broker calls; a server without any of them is refused when it starts. */
export const ALPACA_MCP_TOOLS = [
  'get_account_info',
  'get_all_positions',
  'place_stock_order',
  'get_order_by_client_id',
  'close_position',
  'get_clock',
  'get_calendar',
  'get_stock_bars',
] as const;

/** Sub-ledger mode (one key pair) also prices internal crosses and marks positions with the latest trade. */
export const ALPACA_MCP_SUBLEDGER_TOOLS = [...ALPACA_MCP_TOOLS, 'get_stock_latest_trade'] as const;

export type AlpacaMcpTool = (typeof ALPACA_MCP_SUBLEDGER_TOOLS)[number];

/** The tools a server must offer for the way the accounts trade: one paper account each, or sub-ledgers of one. */
export function alpacaMcpTools(mode: 'accounts' | 'subledger'): readonly AlpacaMcpTool[] {
  return mode === 'subledger' ? ALPACA_MCP_SUBLEDGER_TOOLS : ALPACA_MCP_TOOLS;
}

/** What calls the tools (connection.ts; a fake in unit tests). */
export interface ToolCaller {
  readonly accountLabel: string;
  callTool(tool: string, args: Record<string, unknown>): Promise<unknown>;
}

export interface AlpacaMcpApiOptions {
  /** The key pair, for redaction only: the server has it in its environment. */
  secrets: readonly string[];
  /** Tries of a read while unavailable (default 3) and the wait between them (default 500 ms, doubling). */
  readAttempts?: number;
  retryBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const TICKER = /^[A-Z][A-Z0-9./-]{0,31}$/;
/** get_stock_bars returns at most `limit` (≤ 10000) bars and takes no page token. */
const MAX_BARS = 10_000;

export class AlpacaMcpApi implements AlpacaSubledgerApi {
  readonly accountLabel: string;
  readonly #caller: ToolCaller;
  readonly #secrets: readonly string[];
  readonly #attempts: number;
  readonly #baseMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(caller: ToolCaller, options: AlpacaMcpApiOptions) {
    this.accountLabel = caller.accountLabel;
    this.#caller = caller;
    this.#secrets = options.secrets;
    this.#attempts = Math.max(1, options.readAttempts ?? 3);
    this.#baseMs = options.retryBaseMs ?? 500;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async getAccount(): Promise<AlpacaAccount> {
    return this.#read('get_account_info', {}, 'an account', parseAccount);
  }

  async listPositions(): Promise<AlpacaPosition[]> {
    return this.#read('get_all_positions', {}, 'a position list', (p) => parsePositions(listOf(p)));
  }

  /** From get_all_positions (the server's get_open_position is not one of the tools we require). */
  async getPosition(symbol: string): Promise<AlpacaPosition | null> {
    const wanted = ticker(symbol);
    return (await this.listPositions()).find((p) => p.symbol === wanted) ?? null;
  }

  async submitOrder(input: SubmitOrderInput): Promise<AlpacaOrder> {
    const body = orderBody(input);
    const args: Record<string, unknown> = {
      symbol: body.symbol,
      side: body.side,
      type: body.type,
      time_in_force: body.time_in_force,
      client_order_id: body.client_order_id,
      ...(body.qty !== undefined ? { qty: body.qty } : {}),
      ...(body.notional !== undefined ? { notional: body.notional } : {}),
      ...(body.limit_price !== undefined ? { limit_price: body.limit_price } : {}),
    };
    const ctx = this.#ctx('place_stock_order', { clientOrderId: body.client_order_id });
    return this.#parse(ctx, 'an order', parseOrder, payloadOf(await this.#caller.callTool(ctx.tool, args), ctx));
  }

  async getOrderByClientOrderId(clientOrderId: string): Promise<AlpacaOrder | null> {
    if (clientOrderId === '' || clientOrderId.length > 128)
      throw new AlpacaOrderValidationError(`client_order_id must have 1 to 128 characters, got ${clientOrderId.length}`, clientOrderId);
    return this.#read('get_order_by_client_id', { client_order_id: clientOrderId }, 'an order', parseOrder, true);
  }

  async getClock(): Promise<AlpacaClock> {
    return this.#read('get_clock', {}, 'a clock', parseClock);
  }

  async getCalendar(start: string, end: string): Promise<AlpacaCalendarDay[]> {
    for (const date of [start, end])
      if (!isValidDate(date)) throw new RangeError(`getCalendar: not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
    if (start > end) throw new RangeError(`getCalendar: start ${start} is after end ${end}`);
    return this.#read('get_calendar', { start, end }, 'a calendar', (p) => parseCalendar(listOf(p)));
  }

  async closePosition(symbol: string, options?: ClosePositionOptions): Promise<AlpacaOrder> {
    const args: Record<string, unknown> = { symbol_or_asset_id: ticker(symbol) };
    if (options?.percentage !== undefined && options.qty !== undefined)
      throw new RangeError('closePosition: give percentage or qty, not both');
    if (options?.percentage !== undefined) {
      const p = options.percentage;
      if (!Number.isFinite(p) || p <= 0 || p > 100) throw new RangeError(`closePosition: percentage must be in (0, 100], got ${p}`);
      args.percentage = p;
    } else if (options?.qty !== undefined) {
      const q = options.qty;
      if (!Number.isFinite(q) || q <= 0) throw new RangeError(`closePosition: qty must be positive, got ${q}`);
      args.qty = q;
    }
    const ctx = this.#ctx('close_position');
    return this.#parse(ctx, 'an order', parseOrder, payloadOf(await this.#caller.callTool(ctx.tool, args), ctx));
  }

  /**
   * Bars of `symbols` from `start` to `end` (YYYY-MM-DD or RFC 3339), each list in time order; every
   * requested symbol is in the result. One call: get_stock_bars cannot follow next_page_token, so a
   * range with more than 10 000 bars in all is refused (ask for a shorter one) rather than cut short.
   */
  async getBars(
    symbols: readonly string[],
    timeframe: string,
    start: string,
    end: string,
    options: Pick<BarsOptions, 'feed' | 'adjustment'> = {},
  ): Promise<Record<string, AlpacaBar[]>> {
    if (symbols.length === 0) throw new RangeError('getBars: no symbols');
    const list = [...new Set(symbols.map(ticker))];
    const args = {
      symbols: list.join(','),
      timeframe,
      start,
      end,
      limit: MAX_BARS,
      adjustment: options.adjustment ?? 'raw',
      feed: options.feed ?? 'iex',
      sort: 'asc',
    };
    const page = await this.#read('get_stock_bars', args, 'a page of bars', parseBarsPage);
    if (page.nextPageToken !== null)
      throw protocolError(
        this.#ctx('get_stock_bars'),
        `more than ${MAX_BARS} bars for ${list.join(',')} ${start}..${end}, and the tool cannot page: ask for a shorter range`,
      );
    const result: Record<string, AlpacaBar[]> = Object.fromEntries(list.map((s) => [s, [] as AlpacaBar[]]));
    for (const [symbol, bars] of Object.entries(page.bars)) (result[symbol] ??= []).push(...bars);
    for (const bars of Object.values(result)) bars.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    return result;
  }

  /**
   * The latest trade of `symbol` (get_stock_latest_trade, generated from Alpaca's StockLatestTrades:
   * GET /v2/stocks/trades/latest?symbols=…&feed=…). Alpaca leaves out a symbol it has no trade for; that
   * is an AlpacaError 404 here, as the HTTP client's single-symbol endpoint answers it.
   */
  async getLatestTrade(symbol: string, options: { feed?: LatestFeed } = {}): Promise<AlpacaTrade> {
    const wanted = ticker(symbol);
    const trades = await this.#read(
      'get_stock_latest_trade',
      { symbols: wanted, feed: options.feed ?? 'iex' },
      'latest trades',
      parseLatestTrades,
    );
    const trade = trades[wanted];
    if (trade === undefined) {
      const message = `no latest trade for ${wanted}`;
      throw new AlpacaError(`Alpaca has ${message} (account ${this.accountLabel}, get_stock_latest_trade)`, {
        status: 404,
        code: null,
        alpacaMessage: message,
        accountLabel: this.accountLabel,
        method: 'MCP',
        path: 'get_stock_latest_trade',
        requestId: null,
        attempts: 1,
      });
    }
    return trade;
  }

  // ------------------------------------------------------------------------------------------ plumbing

  #ctx(tool: AlpacaMcpTool, extra: Partial<ToolCallContext> = {}): ToolCallContext {
    return { tool, accountLabel: this.accountLabel, secrets: this.#secrets, ...extra };
  }

  async #read<T>(tool: AlpacaMcpTool, args: Record<string, unknown>, what: string, parse: (json: unknown) => T): Promise<T>;
  async #read<T>(
    tool: AlpacaMcpTool,
    args: Record<string, unknown>,
    what: string,
    parse: (json: unknown) => T,
    notFoundIsNull: true,
  ): Promise<T | null>;
  async #read<T>(
    tool: AlpacaMcpTool,
    args: Record<string, unknown>,
    what: string,
    parse: (json: unknown) => T,
    notFoundIsNull = false,
  ): Promise<T | null> {
    const ctx = this.#ctx(tool, notFoundIsNull ? { notFoundIsNull } : {});
    for (let attempt = 1; ; attempt++) {
      try {
        const payload = payloadOf(await this.#caller.callTool(tool, args), ctx);
        if (payload === null && notFoundIsNull) return null;
        return this.#parse(ctx, what, parse, payload);
      } catch (error) {
        if (!(error instanceof AlpacaUnavailableError) || attempt >= this.#attempts) throw error;
        await this.#sleep(this.#baseMs * 2 ** (attempt - 1));
      }
    }
  }

  #parse<T>(ctx: ToolCallContext, what: string, parse: (json: unknown) => T, payload: unknown): T {
    try {
      return parse(payload);
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      const problems = error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      throw protocolError(ctx, `${what} we cannot read: ${problems}`);
    }
  }
}

function ticker(symbol: string): string {
  if (typeof symbol !== 'string' || !TICKER.test(symbol))
    throw new RangeError(`not a ticker: ${JSON.stringify(symbol)} (upper case, e.g. SPY or BRK.B)`);
  return symbol;
}
