/**
 * Each account's equity and P/L as its books say (the ledger's fills, marked with printed prices):
 *   - today: equity now minus equity at the close of the session before the latest one (on a weekend,
 *     Friday's P/L; before the open, nothing has moved yet);
 *   - the week: equity now minus equity when the week's weekly decision was taken, i.e. at the close
 *     before its fill day (the prices that decision saw) — the week being the latest one with orders.
 * Marks are the last print knowable at each instant (MarketData.lastPrintAt: never a modelled price);
 * a mark that is not a print of that instant (a weekend) is flagged approximate.
 */
import { and, eq, lte, max } from 'drizzle-orm';
import type { AppConfig } from '../config/app-config.js';
import { weekOf } from '../council/week.js';
import { etToUtc, isTradingDay, previousTradingDay, sessionHours, tradingDayOnOrBefore, utcToEt } from '../market/calendar.js';
import type { MarketData } from '../ports/market-data.js';
import type { Db } from '../storage/db.js';
import { orders } from '../storage/schema.js';
import { roundCash } from '../broker/money.js';
import { equityOf, type Book } from './book.js';
import type { PortfolioLedger } from './portfolio-ledger.js';
import { startingCashOfAccounts } from './decision-equity.js';

export interface BooksPnl {
  account_id: number;
  /** Marked with the last prints at the instant asked for; null (and the P/L with it) without a price. */
  equity: number | null;
  day_start_equity: number | null;
  week_start_equity: number | null;
  pnl_today: number | null;
  /** Null before the portfolio's first week. */
  pnl_week: number | null;
  week_id: string | null;
  /** When "today" and "the week" start (ISO UTC). */
  today_from: string;
  week_from: string | null;
  approximate_marks: boolean;
  /** Why a figure is missing (a ticker without a price at that instant) or stale (the data ends earlier). */
  note: string | null;
}

export interface PnlContext {
  db: Db;
  portfolio: string;
  ledger: PortfolioLedger;
  marketData: MarketData;
  config: AppConfig;
}

/** The close of the session before the latest one that opened at or before `at`. */
export function todayFrom(at: Date): Date {
  const et = utcToEt(at);
  let day = tradingDayOnOrBefore(et.date);
  if (day === et.date && et.time < sessionHours(day).open) day = previousTradingDay(day);
  const before = previousTradingDay(day);
  return etToUtc(before, sessionHours(before).close);
}

export async function booksPnl(ctx: PnlContext, at: Date): Promise<BooksPnl[]> {
  const [rows, [latest]] = await Promise.all([
    startingCashOfAccounts(ctx.db, { portfolio: ctx.portfolio }),
    ctx.db
      .select({ weekId: max(orders.weekId) })
      .from(orders)
      .where(and(eq(orders.portfolio, ctx.portfolio), lte(orders.submittedAt, at))),
    ctx.ledger.refresh(ctx.db, ctx.portfolio),
  ]);
  const weekId = latest?.weekId ?? null;
  const dayStart = todayFrom(at);
  let weekStart: Date | null = null;
  if (weekId) {
    const before = previousTradingDay(weekOf(weekId, ctx.config).fill_date);
    weekStart = etToUtc(before, sessionHours(before).close);
  }
  // Fills at `at` itself count (the books "now" include an order filled at this instant).
  const now = new Date(at.getTime() + 1);
  const marks = new Marks(ctx.marketData);
  const out: BooksPnl[] = [];
  for (const a of rows.sort((x, y) => x.id - y.id)) {
    const bookAt = (t: Date): Book => ctx.ledger.stateBefore(a.id, a.startingCash, t).book;
    const equity = await marks.equity(bookAt(now), at);
    const atDayStart = await marks.equity(bookAt(dayStart), dayStart);
    const atWeekStart = weekStart ? await marks.equity(bookAt(weekStart), weekStart) : null;
    const diff = (x: number | null, y: number | null) => (x === null || y === null ? null : roundCash(x - y));
    out.push({
      account_id: a.id,
      equity,
      day_start_equity: atDayStart,
      week_start_equity: atWeekStart,
      pnl_today: diff(equity, atDayStart),
      pnl_week: diff(equity, atWeekStart),
      week_id: weekId,
      today_from: dayStart.toISOString(),
      week_from: weekStart ? weekStart.toISOString() : null,
      approximate_marks: marks.approximate,
      note: marks.missing,
    });
  }
  return out;
}

/** Printed prices at instants, each asked once. */
class Marks {
  readonly #prices = new Map<string, number | null>();
  approximate = false;
  missing: string | null = null;

  constructor(private readonly marketData: MarketData) {}

  async equity(book: Book, at: Date): Promise<number | null> {
    let et = utcToEt(at);
    // Outside a session day (a weekend, a holiday): the last session's close.
    if (!isTradingDay(et.date)) {
      const day = tradingDayOnOrBefore(et.date);
      et = { date: day, time: sessionHours(day).close };
    }
    for (const ticker of book.positions.keys()) {
      const key = `${ticker} ${et.date} ${et.time}`;
      if (this.#prices.has(key)) continue;
      try {
        const quote = await this.marketData.lastPrintAt(ticker, et.date, et.time);
        // A print older than the instant's session (the data ends before it) is stale: flagged and said.
        const session = et.time >= sessionHours(et.date).open ? et.date : previousTradingDay(et.date);
        if (quote.date < session)
          this.missing ??= `marked with the last print there is, ${quote.ticker} on ${quote.date}: the ${this.marketData.name} data ends before ${et.date}`;
        this.approximate ||= quote.approximate || quote.date < session;
        this.#prices.set(key, quote.price);
      } catch (error) {
        this.#prices.set(key, null);
        this.missing ??= `no price for ${ticker} at ${et.date} ${et.time} ET (${this.marketData.name} data): ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    const priced = [...book.positions.keys()].every((t) => this.#prices.get(`${t} ${et.date} ${et.time}`) != null);
    return priced ? equityOf(book, (ticker) => this.#prices.get(`${ticker} ${et.date} ${et.time}`) as number) : null;
  }
}
