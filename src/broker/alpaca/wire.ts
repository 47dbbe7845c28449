/**
 * What Alpaca sends, checked with zod and turned into our types (camelCase, numbers, UTC instants).
 *
 * Tolerant by design: every object keeps fields Alpaca adds (they are in `raw`, the response exactly
 * as received, for the audit log), and only the fields we act on are required. Fields Alpaca may drop
 * are optional — the pattern-day-trader fields (`pattern_day_trader`, `daytrade_count`,
 * `daytrading_buying_power`) are deprecated in the spec (sunset 2026-07-06) and read as null when
 * absent. Enumerations Alpaca may extend (order status, time in force, account status) are read as
 * strings; `side` is buy|sell and stays strict.
 *
 * Shapes follow specs/alpaca/trading-api.json (Account, Order, Position, legacy_clock,
 * legacy_calendar_day) and market-data-api.json (stock_bars_resp, stock_bar,
 * stock_latest_trades_resp_single).
 */
import { z } from 'zod';
import { etToUtc } from '../../market/calendar.js';
import { decimal, optionalDecimal } from './decimal.js';

export type Raw = Readonly<Record<string, unknown>>;

/**
 * An RFC 3339 timestamp (Alpaca's have up to nanoseconds and an offset, e.g.
 * "2024-01-02T09:30:00.123456789-05:00") as a UTC ISO string with milliseconds.
 */
export function toUtcIso(text: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i.exec(text.trim());
  if (!m) return null;
  const fraction = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '.000';
  const ms = Date.parse(`${m[1]}${fraction}${m[3]!.toUpperCase()}`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

const timestamp = z.string().transform((text, ctx) => {
  const iso = toUtcIso(text);
  if (iso === null) {
    ctx.addIssue({ code: 'custom', message: `not an RFC 3339 timestamp: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return iso;
});

const optionalTimestamp = timestamp
  .nullable()
  .optional()
  .transform((value) => value ?? null);

const optionalBoolean = z
  .boolean()
  .nullable()
  .optional()
  .transform((value) => value ?? null);

const optionalString = z
  .string()
  .nullable()
  .optional()
  .transform((value) => value ?? null);

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');

// ---------------------------------------------------------------------------------------------- account

const accountSchema = z.looseObject({
  id: z.string(),
  account_number: optionalString,
  status: z.string(),
  currency: z.string().optional(),
  cash: decimal,
  equity: decimal,
  buying_power: decimal,
  last_equity: optionalDecimal,
  long_market_value: optionalDecimal,
  short_market_value: optionalDecimal,
  portfolio_value: optionalDecimal,
  multiplier: optionalDecimal,
  shorting_enabled: optionalBoolean,
  trading_blocked: optionalBoolean,
  account_blocked: optionalBoolean,
  trade_suspended_by_user: optionalBoolean,
  // Deprecated (FINRA's intraday margin rule replaced PDT): may disappear at any time.
  pattern_day_trader: optionalBoolean,
  daytrade_count: z
    .number()
    .nullable()
    .optional()
    .transform((value) => value ?? null),
  daytrading_buying_power: optionalDecimal,
});

export interface AlpacaAccount {
  id: string;
  accountNumber: string | null;
  status: string;
  currency: string;
  cash: number;
  equity: number;
  buyingPower: number;
  lastEquity: number | null;
  longMarketValue: number | null;
  /** Negative (or zero): Alpaca reports short exposure as a negative market value. */
  shortMarketValue: number | null;
  multiplier: number | null;
  shortingEnabled: boolean | null;
  /** True when Alpaca will not accept orders (trading_blocked, account_blocked or trade_suspended_by_user). */
  tradingBlocked: boolean;
  /** Deprecated by Alpaca; null when it no longer sends them. */
  patternDayTrader: boolean | null;
  daytradeCount: number | null;
  raw: Raw;
}

export function parseAccount(json: unknown): AlpacaAccount {
  const a = accountSchema.parse(json);
  return {
    id: a.id,
    accountNumber: a.account_number,
    status: a.status,
    currency: a.currency ?? 'USD',
    cash: a.cash,
    equity: a.equity,
    buyingPower: a.buying_power,
    lastEquity: a.last_equity,
    longMarketValue: a.long_market_value,
    shortMarketValue: a.short_market_value,
    multiplier: a.multiplier,
    shortingEnabled: a.shorting_enabled,
    tradingBlocked: Boolean(a.trading_blocked || a.account_blocked || a.trade_suspended_by_user),
    patternDayTrader: a.pattern_day_trader,
    daytradeCount: a.daytrade_count,
    raw: json as Raw,
  };
}

// ---------------------------------------------------------------------------------------------- orders

const orderSchema = z
  .looseObject({
    id: z.string(),
    client_order_id: z.string(),
    symbol: z.string(),
    side: z.enum(['buy', 'sell']),
    // `order_type` is the deprecated spelling of `type`; either will do.
    type: z.string().optional(),
    order_type: z.string().optional(),
    time_in_force: z.string(),
    status: z.string(),
    qty: optionalDecimal,
    notional: optionalDecimal,
    filled_qty: optionalDecimal,
    filled_avg_price: optionalDecimal,
    limit_price: optionalDecimal,
    created_at: optionalTimestamp,
    updated_at: optionalTimestamp,
    submitted_at: optionalTimestamp,
    filled_at: optionalTimestamp,
    canceled_at: optionalTimestamp,
    expired_at: optionalTimestamp,
    failed_at: optionalTimestamp,
  })
  .refine((o) => o.type !== undefined || o.order_type !== undefined, { message: 'the order has no type', path: ['type'] });

/** Statuses after which an order never changes again. */
const FINAL_STATUSES = new Set(['filled', 'canceled', 'expired', 'rejected', 'replaced']);

export interface AlpacaOrder {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  type: string;
  timeInForce: string;
  /** new, accepted, partially_filled, filled, canceled, expired, rejected, … (Alpaca may add more). */
  status: string;
  /** Ordered quantity; null for a notional order. */
  qty: number | null;
  /** Ordered dollar amount; null for a quantity order. */
  notional: number | null;
  filledQty: number;
  filledAvgPrice: number | null;
  limitPrice: number | null;
  createdAt: string | null;
  updatedAt: string | null;
  submittedAt: string | null;
  filledAt: string | null;
  canceledAt: string | null;
  expiredAt: string | null;
  failedAt: string | null;
  /** Whether the status is final (filled, canceled, expired, rejected, replaced). */
  final: boolean;
  raw: Raw;
}

export function parseOrder(json: unknown): AlpacaOrder {
  const o = orderSchema.parse(json);
  return {
    id: o.id,
    clientOrderId: o.client_order_id,
    symbol: o.symbol,
    side: o.side,
    type: (o.type ?? o.order_type)!,
    timeInForce: o.time_in_force,
    status: o.status,
    qty: o.qty,
    notional: o.notional,
    filledQty: o.filled_qty ?? 0,
    filledAvgPrice: o.filled_avg_price,
    limitPrice: o.limit_price,
    createdAt: o.created_at,
    updatedAt: o.updated_at,
    submittedAt: o.submitted_at,
    filledAt: o.filled_at,
    canceledAt: o.canceled_at,
    expiredAt: o.expired_at,
    failedAt: o.failed_at,
    final: FINAL_STATUSES.has(o.status),
    raw: json as Raw,
  };
}

// ---------------------------------------------------------------------------------------------- positions

const positionSchema = z.looseObject({
  symbol: z.string(),
  asset_id: z.string().optional(),
  side: z.string().optional(),
  qty: decimal,
  qty_available: optionalDecimal,
  avg_entry_price: decimal,
  current_price: optionalDecimal,
  lastday_price: optionalDecimal,
  market_value: optionalDecimal,
  cost_basis: optionalDecimal,
  unrealized_pl: optionalDecimal,
  unrealized_plpc: optionalDecimal,
  unrealized_intraday_pl: optionalDecimal,
  change_today: optionalDecimal,
});

export interface AlpacaPosition {
  symbol: string;
  /** Signed: negative for a short. */
  qty: number;
  side: 'long' | 'short';
  qtyAvailable: number | null;
  avgEntryPrice: number;
  currentPrice: number | null;
  lastdayPrice: number | null;
  /** Signed like qty. */
  marketValue: number | null;
  costBasis: number | null;
  unrealizedPl: number | null;
  unrealizedPlpc: number | null;
  raw: Raw;
}

export function parsePosition(json: unknown): AlpacaPosition {
  const p = positionSchema.parse(json);
  // Alpaca signs a short's qty; a `side: short` with an unsigned qty is read as short all the same.
  const short = p.side === 'short' || p.qty < 0;
  return {
    symbol: p.symbol,
    qty: short ? -Math.abs(p.qty) : p.qty,
    side: short ? 'short' : 'long',
    qtyAvailable: p.qty_available,
    avgEntryPrice: p.avg_entry_price,
    currentPrice: p.current_price,
    lastdayPrice: p.lastday_price,
    marketValue: p.market_value === null ? null : short ? -Math.abs(p.market_value) : p.market_value,
    costBasis: p.cost_basis,
    unrealizedPl: p.unrealized_pl,
    unrealizedPlpc: p.unrealized_plpc,
    raw: json as Raw,
  };
}

export function parsePositions(json: unknown): AlpacaPosition[] {
  return z.array(z.unknown()).parse(json).map(parsePosition);
}

// ---------------------------------------------------------------------------------------------- clock, calendar

const clockSchema = z.looseObject({
  timestamp,
  is_open: z.boolean(),
  next_open: timestamp,
  next_close: timestamp,
});

export interface AlpacaClock {
  /** UTC ISO instants. */
  timestamp: string;
  isOpen: boolean;
  nextOpen: string;
  nextClose: string;
  raw: Raw;
}

export function parseClock(json: unknown): AlpacaClock {
  const c = clockSchema.parse(json);
  return { timestamp: c.timestamp, isOpen: c.is_open, nextOpen: c.next_open, nextClose: c.next_close, raw: json as Raw };
}

/** 'HH:MM' (open, close) or 'HHMM' (session_open, session_close) → 'HH:MM'. */
const wallTime = z.string().transform((text, ctx) => {
  const m = /^(\d{2}):?(\d{2})$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) {
    ctx.addIssue({ code: 'custom', message: `not a time of day: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return `${m[1]}:${m[2]}`;
});

const optionalWallTime = wallTime
  .nullable()
  .optional()
  .transform((value) => value ?? null);

const calendarDaySchema = z.looseObject({
  date: isoDate,
  open: wallTime,
  close: wallTime,
  session_open: optionalWallTime,
  session_close: optionalWallTime,
  settlement_date: isoDate
    .nullable()
    .optional()
    .transform((value) => value ?? null),
});

/**
 * One trading day of Alpaca's calendar. `open` and `close` are America/New_York wall times (the spec:
 * "HH:MM"; 13:00 on early closes) and `openAt`/`closeAt` the same instants in UTC (DST applied);
 * `sessionOpen`/`sessionClose` bound the extended session ("HHMM" on the wire), New York time too.
 */
export interface AlpacaCalendarDay {
  date: string;
  open: string;
  close: string;
  /** UTC ISO instants of the regular open and close. */
  openAt: string;
  closeAt: string;
  sessionOpen: string | null;
  sessionClose: string | null;
  settlementDate: string | null;
}

export function parseCalendar(json: unknown): AlpacaCalendarDay[] {
  return z
    .array(calendarDaySchema)
    .parse(json)
    .map((d) => ({
      date: d.date,
      open: d.open,
      close: d.close,
      openAt: etToUtc(d.date, d.open).toISOString(),
      closeAt: etToUtc(d.date, d.close).toISOString(),
      sessionOpen: d.session_open,
      sessionClose: d.session_close,
      settlementDate: d.settlement_date,
    }));
}

// ---------------------------------------------------------------------------------------------- market data

const barSchema = z.looseObject({
  t: timestamp,
  o: decimal,
  h: decimal,
  l: decimal,
  c: decimal,
  v: decimal,
  n: optionalDecimal,
  vw: optionalDecimal,
});

export interface AlpacaBar {
  /** Start of the bar, UTC ISO (a daily bar starts at midnight New York time). */
  timestamp: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  tradeCount: number | null;
  vwap: number | null;
}

const barsPageSchema = z.looseObject({
  // Alpaca sends `"bars": {}` for no data; some endpoints have sent null.
  bars: z
    .record(z.string(), z.array(barSchema).nullable())
    .nullable()
    .transform((value) => value ?? {}),
  next_page_token: z
    .string()
    .nullable()
    .optional()
    .transform((value) => (value === undefined || value === null || value === '' ? null : value)),
});

export interface AlpacaBarsPage {
  bars: Record<string, AlpacaBar[]>;
  nextPageToken: string | null;
}

export function parseBarsPage(json: unknown): AlpacaBarsPage {
  const page = barsPageSchema.parse(json);
  const bars: Record<string, AlpacaBar[]> = {};
  for (const [symbol, list] of Object.entries(page.bars)) {
    bars[symbol] = (list ?? []).map((b) => ({
      timestamp: b.t,
      open: b.o,
      high: b.h,
      low: b.l,
      close: b.c,
      volume: b.v,
      tradeCount: b.n,
      vwap: b.vw,
    }));
  }
  return { bars, nextPageToken: page.next_page_token };
}

const tradeSchema = z.looseObject({
  t: timestamp,
  p: decimal,
  s: decimal,
  x: z.string().optional(),
});

/** GET /v2/stocks/{symbol}/trades/latest (StockLatestTradeSingle): `{symbol, trade}`. */
const latestTradeSchema = z.looseObject({
  symbol: z.string(),
  trade: tradeSchema,
});

/** GET /v2/stocks/trades/latest?symbols=… (StockLatestTrades): `{trades: {SYMBOL: trade}}`, a symbol without a trade left out. */
const latestTradesSchema = z.looseObject({
  trades: z.record(z.string(), tradeSchema),
});

export interface AlpacaTrade {
  symbol: string;
  /** UTC ISO instant of the trade. */
  timestamp: string;
  price: number;
  size: number;
  exchange: string | null;
}

export function parseLatestTrade(json: unknown): AlpacaTrade {
  const t = latestTradeSchema.parse(json);
  return tradeOf(t.symbol, t.trade);
}

/** The multi-symbol answer, by symbol (the symbols Alpaca has no trade for are absent). */
export function parseLatestTrades(json: unknown): Record<string, AlpacaTrade> {
  const page = latestTradesSchema.parse(json);
  return Object.fromEntries(Object.entries(page.trades).map(([symbol, trade]) => [symbol, tradeOf(symbol, trade)]));
}

function tradeOf(symbol: string, trade: z.infer<typeof tradeSchema>): AlpacaTrade {
  return { symbol, timestamp: trade.t, price: trade.p, size: trade.s, exchange: trade.x ?? null };
}

// ---------------------------------------------------------------------------------------------- errors

const errorBodySchema = z.looseObject({
  code: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
});

/** Alpaca's error envelope `{code, message}` (either may be missing), or nulls for anything else. */
export function parseErrorBody(json: unknown): { code: number | string | null; message: string | null } {
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return { code: null, message: null };
  return { code: parsed.data.code ?? null, message: parsed.data.message ?? null };
}

const portfolioHistorySchema = z.looseObject({
  timestamp: z.array(z.number()),
  equity: z.array(z.number().nullable()),
});

/** One point of an account's equity history: the window starting at `at` (UTC ISO), its closing equity. */
export interface AlpacaEquityPoint {
  at: string;
  equity: number;
}

/**
 * GET /v2/account/portfolio/history: the account's equity at the end of each window (timestamps are
 * UNIX seconds, left-labelled: the window's start). Windows without a value (null) are left out.
 */
export function parsePortfolioHistory(json: unknown): AlpacaEquityPoint[] {
  const h = portfolioHistorySchema.parse(json);
  if (h.timestamp.length !== h.equity.length)
    throw new z.ZodError([
      { code: 'custom', path: ['equity'], message: `${h.equity.length} equity values for ${h.timestamp.length} timestamps`, input: h },
    ]);
  return h.timestamp.flatMap((t, i) => {
    const equity = h.equity[i];
    return equity === null || equity === undefined ? [] : [{ at: new Date(t * 1000).toISOString(), equity }];
  });
}
