/**
 * Alpaca's Trading API and Market Data API for one account (one key pair), as a typed thin client over
 * fetch. Why not the official SDK: README, "Alpaca client".
 *
 * Every method sends one kind of request, reads the answer through the zod schemas of wire.ts (decimal
 * strings become numbers there, once) and fails with the errors of errors.ts. Retries, waits and what is
 * safe to repeat: retry.ts. Orders are checked before sending (order-request.ts): whole shares for a
 * short, notional only for market day buys, no fractional opg/cls.
 *
 * Lookups that may find nothing (getPosition, getOrder, getOrderByClientOrderId) return null on 404.
 */
import { ZodError } from 'zod';
import { isValidDate } from '../../market/calendar.js';
import { sleep as defaultSleep, type RetrySettings } from '../../llm/retry-policy.js';
import { decimalsOf, toDecimalString } from './decimal.js';
import { AlpacaConfigError, AlpacaOrderValidationError } from './errors.js';
import { orderBody, type SubmitOrderInput } from './order-request.js';
import type { AlpacaSubledgerApi } from './trading-api.js';
import { DEFAULT_ALPACA_RETRY } from './retry.js';
import { AlpacaTransport, type AlpacaRequest, type FetchLike } from './transport.js';
import {
  parseAccount,
  parseBarsPage,
  parseCalendar,
  parseClock,
  parseLatestTrade,
  parseOrder,
  parsePosition,
  parsePortfolioHistory,
  parsePositions,
  type AlpacaAccount,
  type AlpacaBar,
  type AlpacaCalendarDay,
  type AlpacaClock,
  type AlpacaEquityPoint,
  type AlpacaOrder,
  type AlpacaPosition,
  type AlpacaTrade,
} from './wire.js';

export const PAPER_TRADING_URL = 'https://paper-api.alpaca.markets';
export const MARKET_DATA_URL = 'https://data.alpaca.markets';

export interface AlpacaClientOptions {
  keyId: string;
  secretKey: string;
  /** Default https://paper-api.alpaca.markets (paper trading; live is https://api.alpaca.markets). */
  tradingBaseUrl?: string;
  /** Default https://data.alpaca.markets. */
  dataBaseUrl?: string;
  /** How messages name the account, e.g. "3 (sonnet)"; never a key. Default "alpaca". */
  accountLabel?: string;
  /** Tries, backoff and the cap on server-advertised waits (retry.ts DEFAULT_ALPACA_RETRY). */
  retry?: Partial<RetrySettings>;
  /** Deadline of one try, headers and body (default 15 s). */
  timeoutMs?: number;
  /** Injectable for tests: the HTTP call, the wait between tries, the jitter source and the clock. */
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export type BarsFeed = 'iex' | 'sip' | 'otc' | 'boats';
export type BarsAdjustment = 'raw' | 'split' | 'dividend' | 'spin-off' | 'all';

export interface BarsOptions {
  /** Default iex (the free feed; sip needs a subscription for recent data). */
  feed?: BarsFeed;
  /** Default raw. */
  adjustment?: BarsAdjustment;
  /** Bars per page, 1..10000 (Alpaca's default 1000). */
  pageLimit?: number;
  /** Stop with an error past this many pages (a server that never stops paging). Default 1000. */
  maxPages?: number;
}

export type LatestFeed = 'iex' | 'sip' | 'delayed_sip' | 'otc' | 'boats' | 'overnight';

export type ClosePositionOptions = { percentage: number; qty?: never } | { qty: number; percentage?: never };

const TICKER = /^[A-Z][A-Z0-9./-]{0,31}$/;
/** The spec's grammar: [1-59]Min|T, [1-23]Hour|H, 1Day|D, 1Week|W, [1,2,3,4,6,12]Month|M. */
const TIMEFRAME = /^(([1-9]|[1-5]\d)(Min|T)|([1-9]|1\d|2[0-3])(Hour|H)|1(Day|D)|1(Week|W)|(1|2|3|4|6|12)(Month|M))$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AlpacaClient implements AlpacaSubledgerApi {
  readonly accountLabel: string;
  private readonly tradingBaseUrl: string;
  private readonly dataBaseUrl: string;
  private readonly transport: AlpacaTransport;

  constructor(options: AlpacaClientOptions) {
    this.accountLabel = options.accountLabel ?? 'alpaca';
    const label = this.accountLabel;
    for (const [name, value] of [
      ['key id', options.keyId],
      ['secret key', options.secretKey],
    ] as const) {
      // Checked here so that fetch never sees (and never quotes back) an unusable header value.
      if (typeof value !== 'string' || value.trim() === '') throw new AlpacaConfigError(`Alpaca account ${label} has no ${name}`);
      if (!/^[\x21-\x7e]+$/.test(value))
        throw new AlpacaConfigError(`the ${name} of Alpaca account ${label} has spaces or invalid characters`);
    }
    this.tradingBaseUrl = baseUrl(options.tradingBaseUrl ?? PAPER_TRADING_URL, 'trading', label);
    this.dataBaseUrl = baseUrl(options.dataBaseUrl ?? MARKET_DATA_URL, 'market data', label);
    this.transport = new AlpacaTransport({
      keyId: options.keyId,
      secretKey: options.secretKey,
      accountLabel: label,
      retry: { ...DEFAULT_ALPACA_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 15_000,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      sleep: options.sleep ?? ((ms) => defaultSleep(ms)),
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    });
  }

  // ------------------------------------------------------------------------------------------ trading

  async getAccount(): Promise<AlpacaAccount> {
    return this.read(this.trading('GET', '/v2/account'), 'an account', parseAccount);
  }

  async listPositions(): Promise<AlpacaPosition[]> {
    return this.read(this.trading('GET', '/v2/positions'), 'a position list', parsePositions);
  }

  /** The open position in `symbol`, or null when there is none. */
  async getPosition(symbol: string): Promise<AlpacaPosition | null> {
    const req = { ...this.trading('GET', `/v2/positions/${encodeURIComponent(ticker(symbol))}`), notFoundIsNull: true };
    return this.readOrNull(req, 'a position', parsePosition);
  }

  /**
   * Close the position in `symbol` with a market order: all of it, `percentage` (0 < p ≤ 100) of it,
   * or `qty` shares of it. Returns the order Alpaca created. Not retried after an ambiguous failure
   * (retry.ts): a second "close 50%" would close half of what is left.
   */
  async closePosition(symbol: string, options?: ClosePositionOptions): Promise<AlpacaOrder> {
    const query: Record<string, string> = {};
    if (options?.percentage !== undefined && options.qty !== undefined)
      throw new RangeError('closePosition: give percentage or qty, not both');
    if (options?.percentage !== undefined) {
      const p = options.percentage;
      if (!Number.isFinite(p) || p <= 0 || p > 100) throw new RangeError(`closePosition: percentage must be in (0, 100], got ${p}`);
      query.percentage = toDecimalString(p, 9, 'percentage');
    } else if (options?.qty !== undefined) {
      const q = options.qty;
      if (!Number.isFinite(q) || q <= 0 || decimalsOf(q) > 9)
        throw new RangeError(`closePosition: qty must be positive with at most 9 decimals, got ${q}`);
      query.qty = toDecimalString(q, 9, 'qty');
    }
    const req = { ...this.trading('DELETE', `/v2/positions/${encodeURIComponent(ticker(symbol))}`, false), query };
    return this.read(req, 'an order', parseOrder);
  }

  /**
   * Place an order (checked first; see order-request.ts). A client_order_id Alpaca already knows —
   * from an earlier run, or from an earlier try of this call that failed in transit — throws
   * DuplicateClientOrderIdError: look the order up with getOrderByClientOrderId instead of resending.
   */
  async submitOrder(input: SubmitOrderInput): Promise<AlpacaOrder> {
    const body = orderBody(input);
    const req = { ...this.trading('POST', '/v2/orders'), body, clientOrderId: body.client_order_id };
    return this.read(req, 'an order', parseOrder);
  }

  async getOrder(orderId: string): Promise<AlpacaOrder | null> {
    if (!UUID.test(orderId)) throw new RangeError(`getOrder: Alpaca order ids are UUIDs, got ${JSON.stringify(orderId)}`);
    const req = { ...this.trading('GET', `/v2/orders/${orderId}`), notFoundIsNull: true };
    return this.readOrNull(req, 'an order', parseOrder);
  }

  async getOrderByClientOrderId(clientOrderId: string): Promise<AlpacaOrder | null> {
    if (clientOrderId === '' || clientOrderId.length > 128) {
      throw new AlpacaOrderValidationError(`client_order_id must have 1 to 128 characters, got ${clientOrderId.length}`, clientOrderId);
    }
    const req = {
      ...this.trading('GET', '/v2/orders:by_client_order_id'),
      query: { client_order_id: clientOrderId },
      notFoundIsNull: true,
    };
    return this.readOrNull(req, 'an order', parseOrder);
  }

  /** Ask Alpaca to cancel an open order (204). An order past cancelling answers 422, thrown as AlpacaError. */
  async cancelOrder(orderId: string): Promise<void> {
    if (!UUID.test(orderId)) throw new RangeError(`cancelOrder: Alpaca order ids are UUIDs, got ${JSON.stringify(orderId)}`);
    await this.transport.request(this.trading('DELETE', `/v2/orders/${orderId}`));
  }

  async getClock(): Promise<AlpacaClock> {
    return this.read(this.trading('GET', '/v2/clock'), 'a clock', parseClock);
  }

  /** Trading days from `start` to `end` (YYYY-MM-DD, inclusive), with open/close in New York time. */
  async getCalendar(start: string, end: string): Promise<AlpacaCalendarDay[]> {
    for (const date of [start, end])
      if (!isValidDate(date)) throw new RangeError(`getCalendar: not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
    if (start > end) throw new RangeError(`getCalendar: start ${start} is after end ${end}`);
    return this.read({ ...this.trading('GET', '/v2/calendar'), query: { start, end } }, 'a calendar', parseCalendar);
  }

  /**
   * The account's daily equity (1D windows) from the session of `start` (YYYY-MM-DD) to now: what
   * Alpaca reports the account was worth at each close.
   */
  async getDailyEquity(start: string): Promise<AlpacaEquityPoint[]> {
    if (!isValidDate(start)) throw new RangeError(`getDailyEquity: not a YYYY-MM-DD date: ${JSON.stringify(start)}`);
    const req = { ...this.trading('GET', '/v2/account/portfolio/history'), query: { timeframe: '1D', start: `${start}T00:00:00Z` } };
    return this.read(req, 'a portfolio history', parsePortfolioHistory);
  }

  // ------------------------------------------------------------------------------------------ market data

  /**
   * Bars of `symbols` from `start` to `end` (YYYY-MM-DD or RFC 3339, inclusive), following
   * next_page_token to the last page. Every requested symbol is in the result (an empty list when
   * Alpaca has no bars for it), each list in time order.
   */
  async getBars(
    symbols: readonly string[],
    timeframe: string,
    start: string,
    end: string,
    options: BarsOptions = {},
  ): Promise<Record<string, AlpacaBar[]>> {
    const result: Record<string, AlpacaBar[]> = {};
    for await (const page of this.barPages(symbols, timeframe, start, end, options)) {
      for (const [symbol, bars] of Object.entries(page)) (result[symbol] ??= []).push(...bars);
    }
    for (const bars of Object.values(result)) bars.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    return result;
  }

  /**
   * The same bars page by page, as Alpaca sends them (each page's symbols in time order), so a caller
   * can store each page before asking for the next: a long download that is stopped keeps what it got.
   * Every requested symbol has a list in the first page (empty when Alpaca sent none).
   */
  async *barPages(
    symbols: readonly string[],
    timeframe: string,
    start: string,
    end: string,
    options: BarsOptions = {},
  ): AsyncGenerator<Record<string, AlpacaBar[]>, void, undefined> {
    if (symbols.length === 0) throw new RangeError('getBars: no symbols');
    const list = [...new Set(symbols.map(ticker))];
    if (!TIMEFRAME.test(timeframe))
      throw new RangeError(`getBars: unknown timeframe ${JSON.stringify(timeframe)} (e.g. 1Day, 15Min, 1Hour)`);
    for (const t of [start, end]) {
      if (!isValidDate(t) && !RFC3339.test(t)) throw new RangeError(`getBars: not a date or RFC 3339 time: ${JSON.stringify(t)}`);
    }
    const pageLimit = options.pageLimit ?? 1000;
    if (!Number.isInteger(pageLimit) || pageLimit < 1 || pageLimit > 10_000)
      throw new RangeError(`getBars: pageLimit must be 1..10000, got ${pageLimit}`);
    const maxPages = options.maxPages ?? 1000;

    const seen = new Set<string>();
    let pageToken: string | undefined;
    for (let page = 1; ; page++) {
      const req = {
        ...this.data('GET', '/v2/stocks/bars'),
        query: {
          symbols: list.join(','),
          timeframe,
          start,
          end,
          limit: String(pageLimit),
          adjustment: options.adjustment ?? 'raw',
          feed: options.feed ?? 'iex',
          sort: 'asc',
          page_token: pageToken,
        },
      };
      const parsed = await this.read(req, 'a page of bars', parseBarsPage);
      const bars: Record<string, AlpacaBar[]> = page === 1 ? Object.fromEntries(list.map((s) => [s, [] as AlpacaBar[]])) : {};
      for (const [symbol, got] of Object.entries(parsed.bars)) (bars[symbol] ??= []).push(...got);
      yield bars;
      const next = parsed.nextPageToken;
      if (next === null) return;
      if (seen.has(next))
        throw this.transport.protocolError(req, 'a page of bars', `next_page_token ${JSON.stringify(next)} repeats an earlier page`);
      if (page >= maxPages) throw this.transport.protocolError(req, 'bars', `still paging after ${maxPages} pages`);
      seen.add(next);
      pageToken = next;
    }
  }

  async getLatestTrade(symbol: string, options: { feed?: LatestFeed } = {}): Promise<AlpacaTrade> {
    const req = {
      ...this.data('GET', `/v2/stocks/${encodeURIComponent(ticker(symbol))}/trades/latest`),
      query: { feed: options.feed ?? 'iex' },
    };
    return this.read(req, 'a latest trade', parseLatestTrade);
  }

  // ------------------------------------------------------------------------------------------ plumbing

  private trading(method: AlpacaRequest['method'], path: string, repeatable = true): AlpacaRequest {
    return { baseUrl: this.tradingBaseUrl, method, path, repeatable };
  }

  private data(method: AlpacaRequest['method'], path: string): AlpacaRequest {
    return { baseUrl: this.dataBaseUrl, method, path, repeatable: true };
  }

  private async read<T>(req: AlpacaRequest, what: string, parse: (json: unknown) => T): Promise<T> {
    const value = await this.readOrNull(req, what, parse);
    if (value === null) throw this.transport.protocolError(req, what, 'no answer');
    return value;
  }

  private async readOrNull<T>(req: AlpacaRequest, what: string, parse: (json: unknown) => T): Promise<T | null> {
    const answer = await this.transport.request(req);
    if (answer === null) return null;
    try {
      return parse(answer.json);
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      const problems = error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      throw this.transport.protocolError(req, what, problems);
    }
  }
}

function ticker(symbol: string): string {
  if (typeof symbol !== 'string' || !TICKER.test(symbol))
    throw new RangeError(`not a ticker: ${JSON.stringify(symbol)} (upper case, e.g. SPY or BRK.B)`);
  return symbol;
}

function baseUrl(value: string, which: string, label: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AlpacaConfigError(`the ${which} base URL of Alpaca account ${label} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new AlpacaConfigError(`the ${which} base URL of Alpaca account ${label} must be http(s)`);
  if (url.search || url.hash)
    throw new AlpacaConfigError(`the ${which} base URL of Alpaca account ${label} must not have a query or fragment`);
  return url.toString().replace(/\/+$/, '');
}
