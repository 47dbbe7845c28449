/**
 * MarketData over the bundled daily bars: `<dir>/<TICKER>.csv` with the header
 * `date,open,high,low,close,adj_close,volume`, dates strictly ascending (see data/etf-daily/SOURCE.md).
 * A ticker's file is read and validated on first use and then cached for the life of the object.
 * The parsed file is also shared by every BundledMarketData of the process while the file is
 * unchanged (parsedFile): each app opens its own, and a worker process opens one per backtest.
 *
 * Intraday price model (daily bars have no intraday prices, so checkpoint prices are modelled):
 *   The price follows a piecewise-linear path through the day's bar over the real session
 *   (09:30 to 16:00, or 13:00 on early-close days, from calendar.sessionHours). It starts at the
 *   open, visits first the extreme against the day's move, then the other extreme, then the close:
 *     close >= open:  O at 09:30 → L at 1/3 of the session → H at 2/3 → C at the close
 *     close <  open:  O at 09:30 → H at 1/3 of the session → L at 2/3 → C at the close
 *   Visiting both extremes keeps every modelled price inside the bar's real range, and going against
 *   the move first is the usual shape of a trending day. Time is measured in session minutes.
 *   Results:
 *     - exactly 09:30              → the open,  source 'bar_open',  approximate: false (a real print)
 *     - at or after the close      → the close, source 'bar_close', approximate: false (a real print)
 *     - before 09:30 (pre-market)  → the previous session's close, source 'bar_close', approximate:
 *                                     false (the last print anyone could see; pre-market quotes are
 *                                     not modelled — the day's open would be a look-ahead)
 *     - inside the session         → the path, source 'intraday_model', approximate: true
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { MarketData } from '../ports/market-data.js';
import { isTradingDay, isValidDate, minutesOf, sessionHours, type SessionHours } from './calendar.js';
import type { Bar, PriceQuote } from './types.js';

const CSV_HEADER = 'date,open,high,low,close,adj_close,volume';
const TICKER_RE = /^[A-Z][A-Z0-9.-]{0,9}$/;

/** src/market and dist/market are both two levels below the package root. */
export function defaultMarketDataDir(): string {
  const fromEnv = process.env.MARKET_DATA_DIR;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(fromEnv);
  return fileURLToPath(new URL('../../data/etf-daily', import.meta.url));
}

const price = z.number().positive();
const BarRow = z
  .object({
    date: z.string().refine(isValidDate, 'expected a real date YYYY-MM-DD'),
    open: price,
    high: price,
    low: price,
    close: price,
    adjClose: price,
    volume: z.number().int().nonnegative(),
  })
  .refine((b) => b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close), {
    message: 'inconsistent OHLC: need low <= min(open, close) and high >= max(open, close)',
  });

/** A CSV cell as a number; blanks and non-numeric text become NaN so zod reports them. */
function num(cell: string | undefined): number {
  const s = (cell ?? '').trim();
  return s === '' ? Number.NaN : Number(s);
}

/** BarRow's rules, checked without zod (true only if BarRow would accept the row unchanged). */
function isPlainValidBar(b: Bar): boolean {
  const positive = (x: number) => Number.isFinite(x) && x > 0;
  return (
    positive(b.open) &&
    positive(b.high) &&
    positive(b.low) &&
    positive(b.close) &&
    positive(b.adjClose) &&
    Number.isSafeInteger(b.volume) &&
    b.volume >= 0 &&
    b.low <= Math.min(b.open, b.close) &&
    b.high >= Math.max(b.open, b.close) &&
    isValidDate(b.date)
  );
}

/** What is wrong with a bar (positive prices, low ≤ open/close ≤ high, a whole volume, a real date), or null. */
export function barProblem(bar: Bar): string | null {
  // BarRow's rules as plain checks: zod per row was ≈ 0.5 s of every start for the 56k bundled
  // rows. A row they refuse still goes through BarRow, which accepts it or says what is wrong.
  if (isPlainValidBar(bar)) return null;
  const parsed = BarRow.safeParse(bar);
  if (parsed.success) return null;
  return parsed.error.issues.map((iss) => (iss.path.length ? `${iss.path.join('.')}: ${iss.message}` : iss.message)).join('; ');
}

/** Parses and validates one ticker's CSV text. Errors name the file and the 1-based line. */
export function parseBarsCsv(text: string, file: string): Bar[] {
  const lines = text.split(/\r?\n/);
  if ((lines[0] ?? '').trim() !== CSV_HEADER) {
    throw new Error(`${file}:1: expected header "${CSV_HEADER}", got "${(lines[0] ?? '').trim()}"`);
  }
  const bars: Bar[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    const cells = line.split(',');
    if (cells.length !== 7) throw new Error(`${where}: expected 7 comma-separated fields, got ${cells.length}: "${line}"`);
    const row = {
      date: (cells[0] ?? '').trim(),
      open: num(cells[1]),
      high: num(cells[2]),
      low: num(cells[3]),
      close: num(cells[4]),
      adjClose: num(cells[5]),
      volume: num(cells[6]),
    };
    const problem = barProblem(row);
    if (problem !== null) throw new Error(`${where}: malformed row "${line}": ${problem}`);
    const prev = bars.at(-1);
    if (prev && row.date <= prev.date) {
      throw new Error(`${where}: date ${row.date} is not after the previous row's ${prev.date} (rows must be ascending)`);
    }
    bars.push(Object.freeze(row));
  }
  if (bars.length === 0) throw new Error(`${file}: no data rows`);
  return bars;
}

/** Index of the last bar with date <= `date`, or -1 (bars ascending by date). */
export function lastIndexOnOrBefore(bars: readonly Bar[], date: string): number {
  let lo = 0;
  let hi = bars.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((bars[mid] as Bar).date <= date) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** The modelled price at New York time `time` on the bar's session (see the model at the top of this file). */
export function intradayModelPrice(bar: Bar, session: SessionHours, time: string): Omit<PriceQuote, 'ticker'> {
  const t = minutesOf(time);
  const open = minutesOf(session.open);
  const close = minutesOf(session.close);
  const base = { date: bar.date, time };
  if (t < open) throw new Error(`intradayModelPrice: ${time} is before the ${session.open} open`);
  if (t === open) return { ...base, price: bar.open, source: 'bar_open', approximate: false };
  if (t >= close) return { ...base, price: bar.close, source: 'bar_close', approximate: false };

  const up = bar.close >= bar.open;
  const path: ReadonlyArray<readonly [number, number]> = [
    [0, bar.open],
    [1 / 3, up ? bar.low : bar.high],
    [2 / 3, up ? bar.high : bar.low],
    [1, bar.close],
  ];
  const f = (t - open) / (close - open);
  let p = bar.close;
  for (let i = 1; i < path.length; i++) {
    const [f1, p1] = path[i] as readonly [number, number];
    if (f <= f1) {
      const [f0, p0] = path[i - 1] as readonly [number, number];
      p = p0 + ((p1 - p0) * (f - f0)) / (f1 - f0);
      break;
    }
  }
  return { ...base, price: round6(p), source: 'intraday_model', approximate: true };
}

/** The last close strictly before `date` (all a decision before the day's open can see), as a quote. */
export function closeBeforeQuote(ticker: string, bars: readonly Bar[], date: string, time: string): PriceQuote {
  const index = lastIndexOnOrBefore(bars, date);
  const previous = bars[index]?.date === date ? bars[index - 1] : bars[index];
  if (!previous) throw new Error(`no ${ticker} bar before ${date} to quote ${time}`);
  return {
    ticker,
    date: previous.date,
    time: sessionHoursOrRegular(previous.date).close,
    price: previous.close,
    source: 'bar_close',
    approximate: false,
  };
}

/** The first and last date every series covers; `ranges` in the order of `tickers`. */
export function commonRange(
  tickers: readonly string[],
  ranges: readonly { first: string; last: string }[],
): { first: string; last: string } {
  let first = '';
  let last = '9999-12-31';
  for (const r of ranges) {
    if (r.first > first) first = r.first;
    if (r.last < last) last = r.last;
  }
  if (first > last) throw new Error(`coverage: tickers ${tickers.join(', ')} share no common date range`);
  return { first, last };
}

export function sessionHoursOrRegular(date: string): SessionHours {
  return isTradingDay(date) ? sessionHours(date) : { open: '09:30', close: '16:00' };
}

/**
 * The process's parsed files, by path, each with the stat it was read under. Parsing the ten bundled
 * files (56k rows) takes ~200 ms of the main thread; every app paid it again (a backtest worker opens
 * an app per backtest, a benchmark or test file many), stalling whatever else the process was doing.
 * A file whose inode, size, mtime or ctime changed is read again; a failed read is not kept.
 */
const parsedFiles = new Map<string, { stamp: string; bars: Promise<readonly Bar[]> }>();

async function parsedFile(file: string): Promise<readonly Bar[]> {
  const s = await stat(file);
  const stamp = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  const known = parsedFiles.get(file);
  if (known?.stamp === stamp) return known.bars;
  const bars = readFile(file, 'utf8').then((text) => Object.freeze(parseBarsCsv(text, file)));
  const entry = { stamp, bars };
  parsedFiles.set(file, entry);
  bars.catch(() => {
    if (parsedFiles.get(file) === entry) parsedFiles.delete(file);
  });
  return bars;
}

export class BundledMarketData implements MarketData {
  readonly name = 'bundled';
  readonly dir: string;
  readonly #cache = new Map<string, Promise<readonly Bar[]>>();

  constructor(options: { dir?: string } = {}) {
    this.dir = options.dir !== undefined ? path.resolve(options.dir) : defaultMarketDataDir();
  }

  /** All bars of a ticker, loaded once. A failed load is not cached, so a fixed file is picked up. */
  #load(ticker: string): Promise<readonly Bar[]> {
    let pending = this.#cache.get(ticker);
    if (!pending) {
      pending = this.#read(ticker);
      pending.catch(() => this.#cache.delete(ticker));
      this.#cache.set(ticker, pending);
    }
    return pending;
  }

  async #read(ticker: string): Promise<readonly Bar[]> {
    // The pattern also keeps a ticker from naming a path outside the data folder.
    if (!TICKER_RE.test(ticker)) throw new Error(`no bundled data for ticker ${ticker} in ${this.dir}`);
    const file = path.join(this.dir, `${ticker}.csv`);
    try {
      return await parsedFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no bundled data for ticker ${ticker} in ${this.dir}`);
      throw err;
    }
  }

  async bars(ticker: string, through: string, limit?: number): Promise<Bar[]> {
    if (!isValidDate(through)) throw new Error(`bars(${ticker}): invalid date "${through}", expected YYYY-MM-DD`);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new Error(`bars(${ticker}): limit must be a non-negative integer, got ${limit}`);
    }
    const all = await this.#load(ticker);
    const end = lastIndexOnOrBefore(all, through) + 1;
    const start = limit === undefined ? 0 : Math.max(0, end - limit);
    return all.slice(start, end);
  }

  async coverage(tickers: readonly string[]): Promise<{ first: string; last: string }> {
    if (tickers.length === 0) throw new Error('coverage: no tickers given');
    const series = await Promise.all(tickers.map((t) => this.#load(t)));
    return commonRange(
      tickers,
      series.map((bars) => ({ first: (bars[0] as Bar).date, last: (bars.at(-1) as Bar).date })),
    );
  }

  async lastPrintAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    if (!isValidDate(date)) throw new Error(`lastPrintAt(${ticker}): invalid date "${date}", expected YYYY-MM-DD`);
    const t = minutesOf(time);
    const all = await this.#load(ticker);
    const index = lastIndexOnOrBefore(all, date);
    const bar = all[index];
    if (!bar) throw new Error(`no ${ticker} bar on or before ${date} (data ${all[0]?.date} to ${all.at(-1)?.date})`);
    const session = sessionHoursOrRegular(date);
    // The day's bar is usable only once the session has opened; before that (or on a day without a bar)
    // the last print is the latest close before the day.
    if (bar.date !== date || t < minutesOf(session.open)) return closeBeforeQuote(ticker, all, date, time);
    if (t >= minutesOf(session.close))
      return { ticker, date, time: session.close, price: bar.close, source: 'bar_close', approximate: false };
    return { ticker, date, time: session.open, price: bar.open, source: 'bar_open', approximate: false };
  }

  async priceAt(ticker: string, date: string, time: string): Promise<PriceQuote> {
    if (!isValidDate(date)) throw new Error(`priceAt(${ticker}): invalid date "${date}", expected YYYY-MM-DD`);
    minutesOf(time); // validates HH:MM before any file access
    const all = await this.#load(ticker);
    const bar = all[lastIndexOnOrBefore(all, date)];
    if (!bar || bar.date !== date) {
      const why = isTradingDay(date) ? 'outside the bundled data' : 'not an NYSE trading day';
      throw new Error(`no ${ticker} bar on ${date} (${why}; data ${all[0]?.date} to ${all.at(-1)?.date})`);
    }
    // A bar on a day our calendar calls closed would be a data problem: model it as a regular session.
    const session = sessionHoursOrRegular(date);
    if (minutesOf(time) < minutesOf(session.open)) {
      // Before the open the last known price is the previous close: using this day's open would leak
      // a price nobody could see yet (the weekly decision at 08:00 relies on this).
      return closeBeforeQuote(ticker, all, date, time);
    }
    return { ticker, ...intradayModelPrice(bar, session, time) };
  }
}
