/**
 * `llm-trading accounts` (simulated broker, or Alpaca with a paper account per account): each account's
 * cash, equity, positions and P/L today and this week; with Alpaca, Alpaca's view beside the books.
 * (The sub-ledger mode has its own view: subledger-accounts.ts.)
 *
 * P/L: the simulated broker is the books, so its equity now is set against the books' equity at the
 * start of the day and of the week (ledger/account-pnl.ts). Alpaca's are its own: today is equity
 * minus last_equity, the week is equity minus its equity at the close the week's decision saw (its
 * portfolio history); the books' figures stand beside them.
 */
import type { App } from '../app.js';
import { besideBooks } from '../broker/alpaca-books.js';
import { roundCash } from '../broker/money.js';
import { booksPnl } from '../ledger/account-pnl.js';
import { utcToEt } from '../market/calendar.js';
import { positionJson, type PositionJson } from '../broker/order-json.js';
import { money, pad, signedMoney } from './format.js';

export interface AccountRow {
  account_id: number;
  owner: string;
  cash: number;
  equity: number;
  positions: PositionJson[];
  marked_at: string;
  approximate_marks: boolean;
  pnl_today: number | null;
  pnl_week: number | null;
  week_id: string | null;
  /** Why a P/L figure is missing (no price at one of its instants), else null. */
  pnl_note: string | null;
  /** Alpaca only: the ledger's books of the account. */
  books?: {
    cash: number | null;
    positions: Record<string, number>;
    equity: number | null;
    pnl_today: number | null;
    pnl_week: number | null;
    approximate_marks: boolean | null;
  };
  positions_match?: boolean;
}

export interface AccountsView {
  portfolio: string;
  broker: string;
  at: Date;
  rows: AccountRow[];
}

/** `latestOrder`: the simulated world's now (Alpaca's accounts are read now). */
export async function accountsView(app: App, latestOrder: Date): Promise<AccountsView> {
  const alpaca = app.broker.name === 'alpaca';
  const at = alpaca ? new Date() : latestOrder;
  const states = [];
  for (const a of app.config.models.accounts) states.push(await app.broker.account(a.id));
  const books = new Map((await booksPnl({ ...app, db: app.store.db }, at)).map((p) => [p.account_id, p]));
  const rows: AccountRow[] = [];
  for (const s of states) {
    const b = books.get(s.accountId);
    const row: AccountRow = {
      account_id: s.accountId,
      owner: s.owner,
      cash: s.cash,
      equity: s.equity,
      positions: s.positions.map(positionJson),
      marked_at: s.markedAt,
      approximate_marks: s.approximateMarks,
      pnl_today: alpaca
        ? s.lastEquity === undefined
          ? null
          : roundCash(s.equity - s.lastEquity)
        : b && b.day_start_equity !== null
          ? roundCash(s.equity - b.day_start_equity)
          : null,
      pnl_week: alpaca
        ? await brokerWeekPnl(app, s.accountId, s.equity, b?.week_from ?? null)
        : b && b.week_start_equity !== null
          ? roundCash(s.equity - b.week_start_equity)
          : null,
      pnl_note: b?.note ?? null,
      week_id: b?.week_id ?? null,
    };
    if (alpaca) {
      const beside = await besideBooks(app.store.db, app.portfolio, s);
      row.books = {
        cash: beside.books.cash,
        positions: beside.books.positions,
        equity: b?.equity ?? null,
        pnl_today: b?.pnl_today ?? null,
        pnl_week: b?.pnl_week ?? null,
        approximate_marks: b?.approximate_marks ?? null,
      };
      row.positions_match = beside.positionsMatch;
    }
    rows.push(row);
  }
  return { portfolio: app.portfolio, broker: app.broker.name, at, rows };
}

export function renderAccountsView(view: AccountsView): string {
  const lines: string[] = [];
  const alpaca = view.broker === 'alpaca';
  lines.push(
    alpaca
      ? `portfolio ${view.portfolio}: Alpaca's paper accounts now, beside the books (ledger)`
      : `portfolio ${view.portfolio}, marked at ${view.at.toISOString()} (its latest order)`,
  );
  const week = view.rows.find((r) => r.week_id)?.week_id;
  lines.push(`today: since the close before the latest session${week ? `; week: since the weekly decision of ${week}` : ''}`);
  lines.push(`${pad('acct', 6)}${pad('owner', 10)}${pad('cash', 16)}${pad('equity', 16)}${pad('today', 14)}${pad('week', 14)}positions`);
  const pnl = (x: number | null): string => (x === null ? '-' : signedMoney(x));
  for (const r of view.rows) {
    const held = r.positions.map((p) => `${p.qty} ${p.ticker}`).join(', ') || 'flat';
    lines.push(
      `${pad(String(r.account_id), 6)}${pad(r.owner, 10)}${pad(money(r.cash), 16)}${pad(money(r.equity), 16)}${pad(pnl(r.pnl_today), 14)}${pad(pnl(r.pnl_week), 14)}${held}`,
    );
    if (r.pnl_note) lines.push(`${pad('', 6)}${r.pnl_note}`);
    const b = r.books;
    if (!b) continue;
    const bookHeld =
      Object.entries(b.positions)
        .map(([t, q]) => `${q} ${t}`)
        .join(', ') || 'flat';
    lines.push(
      `${pad('', 6)}${pad('books', 10)}${pad(money(b.cash), 16)}${pad(money(b.equity), 16)}${pad(pnl(b.pnl_today), 14)}${pad(pnl(b.pnl_week), 14)}${bookHeld}` +
        `${r.positions_match ? '' : '  (differs from Alpaca)'}${b.approximate_marks ? '  (marks approximate)' : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Alpaca's own P/L since the week's start (the close before its fill day), from its daily equity; null when it has none. */
async function brokerWeekPnl(app: App, accountId: number, equity: number, weekFrom: string | null): Promise<number | null> {
  if (!weekFrom || !app.broker.dailyEquity) return null;
  const date = utcToEt(new Date(weekFrom)).date;
  try {
    const start = (await app.broker.dailyEquity(accountId, date)).find((p) => p.date === date);
    return start ? roundCash(equity - start.equity) : null;
  } catch {
    // The account's keys or Alpaca failing here: the account line already says what its state is.
    return null;
  }
}
