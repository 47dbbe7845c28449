import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { etIso, etToUtc, isValidDate, nextTradingDay, sessionHours, tradingDaysBetween, utcToEt } from '../../src/market/calendar.js';
import { roundCash } from '../../src/broker/money.js';
import { AlpacaSpec, type AlpacaApi } from './alpaca-spec.js';
import { Book, dec, type Account, type Answer, type StandInAccountInit } from './alpaca-stand-in-book.js';

/**
 * A local Alpaca on 127.0.0.1 (random port) that behaves as Alpaca's OpenAPI documents say, for the
 * client's tests (and, later, the broker adapter's). One server, two roots: `${tradingUrl}` is the
 * Trading API (paper-api.alpaca.markets), `${dataUrl}` the Market Data API (data.alpaca.markets).
 *
 * Every request is checked against the spec (alpaca-spec.ts) — path, method, parameters, body, auth
 * headers — and so is every response the stand-in sends; problems go to `violations`, which tests
 * assert is empty. The books (alpaca-stand-in-book.ts) keep one account per key pair, in memory.
 *
 * Implemented (by the spec's operationId): getAccount, getAllOpenPositions, getOpenPosition,
 * deleteOpenPosition, postOrder, getOrderByClientOrderId, getOrderByOrderID, deleteOrderByOrderID,
 * LegacyClock, LegacyCalendar (from our NYSE calendar, with the days setCalendarDay changed),
 * getAccountPortfolioHistory (1D only: the equity at each close() since `start`, left-labelled at
 * 00:00 New York time),
 * StockBars (pages of `pageLimit` bars chained by next_page_token, per timeframe and adjustment as
 * setBars stored them), StockLatestTradeSingle and StockLatestTrades (the price table; the latter leaves
 * out a symbol without a price, as Alpaca does). Anything else in the spec answers 501
 * and is recorded as a violation, so a test cannot rely on it by accident.
 *
 * Auth: APCA-API-KEY-ID / APCA-API-SECRET-KEY. Missing → 401 {"message":"unauthorized."}; unknown or
 * wrong keys → 401 {"code":40110000,"message":"request is not authorized"}; keys of a `forbidden`
 * account → 403 {"message":"forbidden."} (all three bodies as Alpaca sends them). Every response
 * carries X-RateLimit-Limit/-Remaining/-Reset and an X-Request-ID, as Alpaca's do.
 *
 * The market clock is the test's: setClock(), open() (the opening auction: opg and queued orders fill),
 * close() (the closing auction: cls orders fill, day orders expire). Scripted faults: fail() answers a
 * matching request with a status (429 with rate-limit headers, 5xx), drops the connection, or — with
 * afterHandling — does the work and then loses the answer (an order placed whose response never came).
 */

export interface StandInBar {
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

export interface RecordedRequest {
  api: AlpacaApi | null;
  method: string;
  /** Path below the API root, without the query. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: unknown;
  operationId: string | null;
  receivedAt: number;
  /** Status the stand-in answered (0 for a dropped connection). */
  status: number;
}

export interface Violation {
  phase: 'request' | 'response';
  method: string;
  path: string;
  operationId: string | null;
  problems: string[];
}

export interface Fault {
  /** Answer with this status… */
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** …or destroy the connection without an answer. */
  drop?: boolean;
  /** Handle the request first (the order is placed), then lose its answer. */
  afterHandling?: boolean;
  /** Which requests (default: any). */
  when?: (req: RecordedRequest) => boolean;
  /** How many matching requests (default 1). */
  times?: number;
}

export interface ClockState {
  /** UTC instants, ms. */
  now: number;
  isOpen: boolean;
  nextOpen: number;
  nextClose: number;
}

export interface AlpacaStandIn {
  /** Trading API root, e.g. http://127.0.0.1:41234/trading (pass as tradingBaseUrl). */
  readonly tradingUrl: string;
  /** Market Data API root (pass as dataBaseUrl). */
  readonly dataUrl: string;
  readonly requests: RecordedRequest[];
  readonly violations: Violation[];
  readonly book: Book;
  /** Bars per page at most (a smaller `limit` in the request wins). */
  pageLimit: number;
  /** Rewrites 2xx JSON bodies before they are validated and sent (fields Alpaca adds or drops). */
  transformResponse: ((operationId: string, body: unknown) => unknown) | null;
  addAccount(init: StandInAccountInit): Account;
  account(keyId: string): Account;
  setPrice(symbol: string, price: number, previousClose?: number): void;
  setClock(state: { now: string; isOpen: boolean; nextOpen: string; nextClose: string }): void;
  clock(): ClockState;
  /** The market opens at clock().nextOpen: opg orders and orders queued while closed fill. */
  open(): void;
  /** The market closes at clock().nextClose: cls orders fill, unfilled day orders expire. */
  close(): void;
  /**
   * The bars served for `symbol` at `timeframe` (default 1Day) and `adjustment` (default: any
   * adjustment that has no list of its own).
   */
  setBars(symbol: string, bars: StandInBar[], options?: { timeframe?: '1Day' | '1Min'; adjustment?: string }): void;
  /** Changes one day of the served calendar: other hours (an early close), or null (closed). */
  setCalendarDay(date: string, hours: { open: string; close: string } | null): void;
  fail(fault: Fault): void;
  /** `times` 429s with X-RateLimit-Remaining 0 and X-RateLimit-Reset `resetInSeconds` from now. */
  rateLimit(times: number, resetInSeconds: number, when?: Fault['when']): void;
  partialFill(keyId: string, clientOrderId: string, qty: number): void;
  fillRemaining(keyId: string, clientOrderId: string): void;
  /** Requests to the API (auth failures and faults included), optionally of one operation. */
  calls(operationId?: string): RecordedRequest[];
  stop(): Promise<void>;
}

const ROOTS: Record<string, AlpacaApi> = { '/trading': 'trading', '/data': 'data' };
const RATE_LIMIT = 200;

/** RFC 3339 in New York time with its offset, as Alpaca's clock sends it: 2025-06-24T14:15:22-04:00. */
function nyIso(ms: number): string {
  const { date, time } = utcToEt(new Date(ms));
  const iso = etIso(date, time);
  const seconds = String(new Date(ms).getUTCSeconds()).padStart(2, '0');
  return `${iso.slice(0, 17)}${seconds}${iso.slice(19)}`;
}

function sessionClose(date: string): number {
  return etToUtc(date, sessionHours(date).close).getTime();
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export async function startAlpacaStandIn(options: { pageLimit?: number } = {}): Promise<AlpacaStandIn> {
  const spec = await AlpacaSpec.load();
  const requests: RecordedRequest[] = [];
  const violations: Violation[] = [];
  const faults: (Fault & { left: number })[] = [];
  const prices = new Map<string, { price: number; previousClose: number }>();
  const bars = new Map<string, StandInBar[]>();
  const barsKey = (symbol: string, timeframe: string, adjustment: string) => `${symbol}|${timeframe}|${adjustment}`;
  const calendarDays = new Map<string, { open: string; close: string } | null>();
  // Wednesday 2024-03-06, 08:00 New York, before the open.
  const clock: ClockState = {
    now: etToUtc('2024-03-06', '08:00').getTime(),
    isOpen: false,
    nextOpen: etToUtc('2024-03-06', '09:30').getTime(),
    nextClose: sessionClose('2024-03-06'),
  };
  let remaining = RATE_LIMIT;

  const book = new Book({
    now: () => clock.now,
    isOpen: () => clock.isOpen,
    price: (symbol) => prices.get(symbol)?.price,
    previousClose: (symbol) => prices.get(symbol)?.previousClose,
  });

  const handlers: Record<string, (account: Account, req: RecordedRequest) => Answer> = {
    getAccount: (account) => ({ status: 200, body: book.accountJson(account) }),
    getAllOpenPositions: (account) => ({
      status: 200,
      body: [...account.positions].sort(([a], [b]) => a.localeCompare(b)).map(([symbol, p]) => book.positionJson(symbol, p)),
    }),
    getOpenPosition: (account, req) => {
      const symbol = decodeURIComponent(req.path.split('/')[3] ?? '');
      const position = account.positions.get(symbol);
      return position
        ? { status: 200, body: book.positionJson(symbol, position) }
        : { status: 404, body: { code: 40410000, message: 'position does not exist' } };
    },
    deleteOpenPosition: (account, req) =>
      book.closePosition(account, decodeURIComponent(req.path.split('/')[3] ?? ''), {
        percentage: one(req.query.percentage),
        qty: one(req.query.qty),
      }),
    postOrder: (account, req) =>
      req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
        ? book.submit(account, req.body as Record<string, unknown>)
        : { status: 422, body: { code: 40010001, message: 'request body format is invalid' } },
    getOrderByClientOrderId: (account, req) => {
      const id = one(req.query.client_order_id) ?? '';
      const order = book.order(account, id);
      return order
        ? { status: 200, body: book.orderJson(order) }
        : { status: 404, body: { code: 40410000, message: `order not found for ${id}` } };
    },
    getOrderByOrderID: (account, req) => {
      const order = account.orders.find((o) => o.id === req.path.split('/')[3]);
      return order ? { status: 200, body: book.orderJson(order) } : { status: 404, body: { code: 40410000, message: 'order not found' } };
    },
    deleteOrderByOrderID: (account, req) => book.cancel(account, req.path.split('/')[3] ?? ''),
    getAccountPortfolioHistory: (account, req) => {
      if ((one(req.query.timeframe) ?? '1D') !== '1D')
        return { status: 422, body: { code: 42210000, message: 'the stand-in serves 1D only' } };
      const start = (one(req.query.start) ?? '1970-01-01').slice(0, 10);
      const points = account.closes.filter((c) => c.date >= start);
      const base = points[0]?.equity ?? 0;
      return {
        status: 200,
        body: {
          timestamp: points.map((c) => etToUtc(c.date, '00:00').getTime() / 1000),
          equity: points.map((c) => c.equity),
          profit_loss: points.map((c) => roundCash(c.equity - base)),
          profit_loss_pct: points.map((c) => (base === 0 ? 0 : (c.equity - base) / base)),
          base_value: base,
          timeframe: '1D',
        },
      };
    },
    LegacyClock: () => ({
      status: 200,
      body: { timestamp: nyIso(clock.now), is_open: clock.isOpen, next_open: nyIso(clock.nextOpen), next_close: nyIso(clock.nextClose) },
    }),
    LegacyCalendar: (_account, req) => {
      const today = utcToEt(new Date(clock.now)).date;
      const start = (one(req.query.start) ?? today).slice(0, 10);
      const end = (one(req.query.end) ?? start).slice(0, 10);
      if (!isValidDate(start) || !isValidDate(end)) return { status: 400, body: { code: 40010001, message: 'invalid start or end' } };
      const changed = [...calendarDays].filter(([date, hours]) => hours !== null && date >= start && date <= end).map(([date]) => date);
      const dates = [...new Set([...tradingDaysBetween(start, end), ...changed])].filter((d) => calendarDays.get(d) !== null).sort();
      const days = dates.map((date) => {
        const hours = calendarDays.get(date) ?? sessionHours(date);
        return {
          date,
          open: hours.open,
          close: hours.close,
          session_open: '0400',
          session_close: '2000',
          settlement_date: nextTradingDay(date),
        };
      });
      return { status: 200, body: days };
    },
    StockBars: (_account, req) => barsPage(req),
    StockLatestTradeSingle: (_account, req) => {
      const symbol = decodeURIComponent(req.path.split('/')[3] ?? '');
      const trade = latestTrade(symbol);
      if (!trade) return { status: 404, body: { code: 40410000, message: `no trade found for ${symbol}` } };
      return { status: 200, body: { symbol, trade } };
    },
    // Several symbols at once; a symbol without a trade is left out, as Alpaca leaves it out.
    StockLatestTrades: (_account, req) => {
      const symbols = (one(req.query.symbols) ?? '').split(',').filter(Boolean);
      if (symbols.length === 0) return { status: 400, body: { code: 40010001, message: 'missing symbols' } };
      const trades: Record<string, object> = {};
      for (const symbol of new Set(symbols)) {
        const trade = latestTrade(symbol);
        if (trade) trades[symbol] = trade;
      }
      return { status: 200, body: { trades } };
    },
  };

  /** The latest trade of `symbol` at the price table's price (iex: exchange V), or undefined without a price. */
  function latestTrade(symbol: string): object | undefined {
    const quote = prices.get(symbol);
    if (!quote) return undefined;
    return { t: nanoTime(clock.now), x: 'V', p: quote.price, s: 100, c: ['@'], i: requests.length, z: 'B' };
  }

  function nanoTime(ms: number): string {
    return new Date(ms).toISOString().replace('Z', '123456Z');
  }

  function barsPage(req: RecordedRequest): Answer {
    const symbols = (one(req.query.symbols) ?? '').split(',').filter(Boolean);
    const from = instantOf(one(req.query.start), false);
    const to = instantOf(one(req.query.end), true);
    const timeframe = (one(req.query.timeframe) ?? '').replace(/^1D$/, '1Day').replace(/^1T$/, '1Min');
    const adjustment = one(req.query.adjustment) ?? 'raw';
    const all = [...new Set(symbols)].sort().flatMap((symbol) =>
      (bars.get(barsKey(symbol, timeframe, adjustment)) ?? bars.get(barsKey(symbol, timeframe, '*')) ?? [])
        .filter((b) => Date.parse(b.t) >= from && Date.parse(b.t) <= to)
        .sort((a, b) => Date.parse(a.t) - Date.parse(b.t))
        .map((bar) => ({ symbol, bar })),
    );
    const token = one(req.query.page_token);
    const offset = token === undefined ? 0 : Number(Buffer.from(token, 'base64').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0 || offset > all.length)
      return { status: 400, body: { code: 40010001, message: 'invalid page_token' } };
    const limit = Math.min(Number(one(req.query.limit) ?? 1000), standIn.pageLimit);
    const page = all.slice(offset, offset + limit);
    const body: Record<string, StandInBar[]> = {};
    for (const { symbol, bar } of page) (body[symbol] ??= []).push(bar);
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64') : null;
    return { status: 200, body: { bars: body, next_page_token: next } };
  }

  function instantOf(value: string | undefined, end: boolean): number {
    if (value === undefined) return end ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    // A date is the whole UTC day (an approximation of Alpaca, which reads dates in New York time).
    if (isValidDate(value)) return Date.parse(`${value}T${end ? '23:59:59.999' : '00:00:00.000'}Z`);
    return Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  }

  function authenticate(req: RecordedRequest): { account: Account } | { refusal: Answer } {
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    if (!keyId || !secret) return { refusal: { status: 401, body: { message: 'unauthorized.' } } };
    const account = book.byKeyId(keyId);
    if (!account || account.secretKey !== secret) {
      return { refusal: { status: 401, body: { code: 40110000, message: 'request is not authorized' } } };
    }
    if (account.forbidden) return { refusal: { status: 403, body: { message: 'forbidden.' } } };
    return { account };
  }

  function takeFault(req: RecordedRequest): (Fault & { left: number }) | undefined {
    const fault = faults.find((f) => f.left > 0 && (f.when?.(req) ?? true));
    if (fault) fault.left--;
    return fault;
  }

  function baseHeaders(): Record<string, string> {
    remaining = Math.max(0, remaining - 1);
    return {
      'content-type': 'application/json; charset=UTF-8',
      'x-request-id': randomBytes(16).toString('hex'),
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 60),
    };
  }

  async function handle(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(incoming);
    const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
    const root = Object.keys(ROOTS).find((r) => url.pathname === r || url.pathname.startsWith(`${r}/`));
    const api = root ? ROOTS[root]! : null;
    const path = root ? url.pathname.slice(root.length) || '/' : url.pathname;
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const prev = query[key];
      query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    const headers = Object.fromEntries(
      Object.entries(incoming.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    );
    const method = (incoming.method ?? 'GET').toUpperCase();
    const req: RecordedRequest = {
      api,
      method,
      path,
      query,
      headers,
      body: undefined,
      operationId: null,
      receivedAt: Date.now(),
      status: 0,
    };
    requests.push(req);

    if (rawBody !== '') {
      try {
        req.body = JSON.parse(rawBody);
      } catch {
        violations.push({ phase: 'request', method, path, operationId: null, problems: ['the body is not JSON'] });
        return send(res, req, { status: 400, body: { code: 40010001, message: 'request body format is invalid' } });
      }
    }
    if (!api) {
      violations.push({ phase: 'request', method, path, operationId: null, problems: [`no API root (expected /trading or /data)`] });
      return send(res, req, { status: 404, body: { message: 'Not Found' } });
    }
    const check = spec.checkRequest(api, { method, path, query, headers, body: req.body });
    req.operationId = check.operationId;
    if (check.problems.length > 0)
      violations.push({ phase: 'request', method, path, operationId: check.operationId, problems: check.problems });
    if (!check.operationId) return send(res, req, { status: 404, body: { message: 'Not Found' } });

    const fault = takeFault(req);
    if (fault && !fault.afterHandling) return sendFault(res, req, fault);

    const who = authenticate(req);
    let answer: Answer;
    if ('refusal' in who) answer = who.refusal;
    else {
      const handler = handlers[check.operationId];
      if (!handler) {
        violations.push({ phase: 'request', method, path, operationId: check.operationId, problems: ['not implemented by the stand-in'] });
        answer = { status: 501, body: { message: `${check.operationId} is not implemented by the stand-in` } };
      } else answer = handler(who.account, req);
    }
    if (fault) return sendFault(res, req, fault);
    if (answer.status >= 200 && answer.status < 300 && answer.body !== undefined && standIn.transformResponse) {
      answer = { ...answer, body: standIn.transformResponse(check.operationId, answer.body) };
    }
    return send(res, req, answer);
  }

  function sendFault(res: ServerResponse, req: RecordedRequest, fault: Fault): void {
    if (fault.drop) {
      req.status = 0;
      res.socket?.destroy();
      return;
    }
    const status = fault.status ?? 500;
    send(res, req, { status, body: fault.body ?? { code: 50010000, message: 'internal server error occurred' } }, fault.headers);
  }

  function send(res: ServerResponse, req: RecordedRequest, answer: Answer, extraHeaders: Record<string, string> = {}): void {
    const headers = { ...baseHeaders(), ...Object.fromEntries(Object.entries(extraHeaders).map(([k, v]) => [k.toLowerCase(), v])) };
    req.status = answer.status;
    if (req.api && req.operationId) {
      const problems = spec.checkResponse(req.api, req.operationId, answer.status, headers, answer.body);
      if (problems.length > 0)
        violations.push({ phase: 'response', method: req.method, path: req.path, operationId: req.operationId, problems });
    }
    if (answer.status === 204 || answer.body === undefined) {
      delete (headers as Record<string, string | undefined>)['content-type'];
      res.writeHead(answer.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  const server = createServer((incoming, res) => {
    void handle(incoming, res).catch((error: unknown) => {
      violations.push({
        phase: 'response',
        method: incoming.method ?? '?',
        path: incoming.url ?? '?',
        operationId: null,
        problems: [`stand-in failure: ${String(error)}`],
      });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `stand-in failure: ${String(error)}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const standIn: AlpacaStandIn = {
    tradingUrl: `${origin}/trading`,
    dataUrl: `${origin}/data`,
    requests,
    violations,
    book,
    pageLimit: options.pageLimit ?? 10_000,
    transformResponse: null,
    addAccount: (init) => book.addAccount(init),
    account: (keyId) => {
      const account = book.byKeyId(keyId);
      if (!account) throw new Error(`stand-in: no account with key id ${keyId}`);
      return account;
    },
    setPrice: (symbol, price, previousClose) => {
      prices.set(symbol, { price, previousClose: previousClose ?? prices.get(symbol)?.previousClose ?? price });
    },
    setClock: (state) => {
      clock.now = Date.parse(state.now);
      clock.isOpen = state.isOpen;
      clock.nextOpen = Date.parse(state.nextOpen);
      clock.nextClose = Date.parse(state.nextClose);
    },
    clock: () => ({ ...clock }),
    open: () => {
      clock.now = clock.nextOpen;
      clock.isOpen = true;
      const today = utcToEt(new Date(clock.now)).date;
      clock.nextOpen = etToUtc(nextTradingDay(today), '09:30').getTime();
      if (clock.nextClose < clock.now) clock.nextClose = sessionClose(today);
      book.onOpen();
    },
    close: () => {
      clock.now = clock.nextClose;
      book.onClose();
      clock.isOpen = false;
      clock.nextClose = sessionClose(nextTradingDay(utcToEt(new Date(clock.now)).date));
    },
    setBars: (symbol, list, options = {}) => {
      bars.set(barsKey(symbol, options.timeframe ?? '1Day', options.adjustment ?? '*'), [...list]);
    },
    setCalendarDay: (date, hours) => {
      calendarDays.set(date, hours);
    },
    fail: (fault) => {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    rateLimit: (times, resetInSeconds, when) => {
      faults.push({
        status: 429,
        left: times,
        ...(when ? { when } : {}),
        body: { code: 42910000, message: 'rate limit exceeded' },
        headers: {
          'X-RateLimit-Limit': String(RATE_LIMIT),
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000 + resetInSeconds)),
        },
      });
    },
    partialFill: (keyId, clientOrderId, qty) => book.partialFill(standIn.account(keyId), clientOrderId, qty),
    fillRemaining: (keyId, clientOrderId) => book.fillRemaining(standIn.account(keyId), clientOrderId),
    calls: (operationId) => requests.filter((r) => operationId === undefined || r.operationId === operationId),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return standIn;
}

/** Alpaca's minute bar starting at New York `time` on `date`, around `close`. */
export function minuteBar(date: string, time: string, close: number, volume = 1_000): StandInBar {
  const t = etToUtc(date, time).toISOString().replace('.000Z', 'Z');
  return { t, o: close - 0.01, h: close + 0.02, l: close - 0.02, c: close, v: volume, n: 10, vw: Number(dec(close, 4)) };
}

/** Alpaca's daily bar for `date` as the stand-in serves it: starts at midnight New York time. */
export function dailyBar(date: string, close: number, volume = 1_000_000): StandInBar {
  const t = etToUtc(date, '00:00').toISOString().replace('.000Z', 'Z');
  return { t, o: close - 0.5, h: close + 1, l: close - 1, c: close, v: volume, n: 1000, vw: Number(dec(close - 0.1, 4)) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The market opens while a run waits for its opening-auction orders: at the first order lookup that
 * finds an order (a 2xx getOrderByClientOrderId; a lookup before sending finds none). Returns whether
 * it has opened.
 */
export function openAtFirstOrderFound(standIn: AlpacaStandIn): () => boolean {
  let opened = false;
  standIn.transformResponse = (operationId, body) => {
    if (operationId === 'getOrderByClientOrderId' && !opened) {
      opened = true;
      setImmediate(() => standIn.open());
    }
    return body;
  };
  return () => opened;
}

/** The stand-in's prices: each ticker's close on `through` in the bundled data (default the ten ETFs, 2024-03-05). */
export async function setPricesFromBundle(
  standIn: Pick<AlpacaStandIn, 'setPrice'>,
  through = '2024-03-05',
  tickers: readonly string[] = ['SPY', 'QQQ', 'IWM', 'TLT', 'IEF', 'LQD', 'HYG', 'GLD', 'USO', 'UUP'],
): Promise<void> {
  const { BundledMarketData } = await import('../../src/market/bundled-market-data.js');
  const data = new BundledMarketData({});
  for (const t of tickers) {
    const close = (await data.bars(t, through, 1)).at(-1)?.close;
    if (close !== undefined) standIn.setPrice(t, close);
  }
}
