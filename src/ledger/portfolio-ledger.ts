/**
 * One portfolio's fills, kept in memory by an App and read incrementally, with each account's book
 * carried forward from one week to the next. Every week asks for the books as they stood before some
 * instant (the risk stage at the decision, the checkpoints and the postmortem at the week's first
 * fill): read and replayed from inception each time, a backtest costs O(weeks²); here a week reads
 * only the fills added since the last read and replays only the fills since the last instant asked.
 *
 * Exact, not approximate: the same fills in the same order (filled_at, then id: the ledger order of
 * book.ts) go through the same applyFill/applyEntry, so every number equals a replay from inception.
 *
 * Why reading `id > last seen` finds every new fill: fills are append-only (nothing updates or deletes
 * one), and a portfolio's fills are written one submission at a time (each in its own transaction,
 * its fills in request order in one statement, under the portfolio's books lock: execute and the
 * checkpoints), so the committed fills of a portfolio are always those up to some id of the one
 * sequence the ids come from. A fill whose instant
 * is earlier than one already held (not something time-ordered runs produce) is merged into place and
 * the carried books are replayed again.
 */
import { asc, and, eq, getTableColumns, gt } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { fills as fillRows } from '../storage/schema.js';
import { advance, copyState, emptyState, type BookState, type LedgerFill } from './book.js';

interface Held {
  id: number;
  at: number;
  fill: LedgerFill;
}

/** An account's book after its first `count` fills, replayed from `startingCash`. */
interface Carried {
  startingCash: number;
  count: number;
  state: BookState;
}

export class PortfolioLedger {
  #lastId = 0;
  readonly #fills = new Map<number, Held[]>();
  readonly #carried = new Map<number, Carried>();

  constructor(readonly portfolio: string) {}

  /** Reads the fills added since the last read (one query, usually returning only the latest week's). */
  async refresh(db: Db, portfolio: string): Promise<void> {
    if (portfolio !== this.portfolio) throw new Error(`the ledger of portfolio ${this.portfolio} was asked for ${portfolio}`);
    // One read at a time: two overlapping reads (a week's books and a late decision job's result in
    // one worker) would both see the same new fills and hold them twice.
    const read = this.#reading.then(() => this.#read(db, portfolio));
    this.#reading = read.catch(() => undefined);
    return read;
  }

  #reading: Promise<void> = Promise.resolve();

  async #read(db: Db, portfolio: string): Promise<void> {
    const rows = await selectFillsAfter(db, { portfolio, lastId: this.#lastId });
    for (const row of rows) {
      if (row.id <= this.#lastId) continue; // already held
      this.#lastId = row.id;
      const held: Held = {
        id: row.id,
        at: row.filledAt.getTime(),
        fill: {
          accountId: row.accountId,
          filledAt: row.filledAt,
          ticker: row.ticker,
          side: row.side as LedgerFill['side'],
          qty: row.qty,
          price: row.price,
          commission: row.commission,
        },
      };
      const list = this.#fills.get(row.accountId) ?? [];
      this.#fills.set(row.accountId, list);
      let i = list.length;
      while (i > 0 && later(list[i - 1] as Held, held)) i--;
      list.splice(i, 0, held);
      const carried = this.#carried.get(row.accountId);
      if (carried && i < carried.count) this.#carried.delete(row.accountId);
    }
  }

  /** The account's fills at or after `instant`, in ledger order. */
  fillsFrom(accountId: number, instant: Date): LedgerFill[] {
    const list = this.#fills.get(accountId) ?? [];
    return list.slice(countBefore(list, instant.getTime())).map((h) => h.fill);
  }

  /**
   * The account's book (and average entries) after every fill strictly before `instant`: a copy the
   * caller may advance. Replays from the book carried from the last call, when that was not later.
   */
  stateBefore(accountId: number, startingCash: number, instant: Date): BookState {
    const list = this.#fills.get(accountId) ?? [];
    const count = countBefore(list, instant.getTime());
    let carried = this.#carried.get(accountId);
    if (!carried || carried.startingCash !== startingCash || carried.count > count)
      carried = { startingCash, count: 0, state: emptyState(startingCash) };
    if (carried.count < count) {
      advance(
        carried.state,
        list.slice(carried.count, count).map((h) => h.fill),
      );
      carried.count = count;
    }
    this.#carried.set(accountId, carried);
    return copyState(carried.state);
  }
}

/** Ledger order: by instant, then by id. */
function later(a: Held, b: Held): boolean {
  return a.at > b.at || (a.at === b.at && a.id > b.id);
}

/** How many of the (ordered) fills are strictly before `at`. */
function countBefore(list: readonly Held[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Held).at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The portfolio's fills after fill `lastId`, in id order: an index range (fills_portfolio_id_idx), not
 * every fill the portfolio ever had (exported for the query-plan tests).
 */
export const selectFillsAfter = reusableRows(getTableColumns(fillRows), (db, $: Slots<{ portfolio: string; lastId: number }>, fields) =>
  db
    .select(fields)
    .from(fillRows)
    .where(and(eq(fillRows.portfolio, $.portfolio), gt(fillRows.id, $.lastId)))
    .orderBy(asc(fillRows.id)),
);
