/**
 * `llm-trading accounts` in Alpaca's sub-ledger mode: each sub-ledger as the books keep it (marked at
 * Alpaca's prices), the one paper account as Alpaca reports it, the comparison of the two now, and the
 * latest reconciliation stored after an execution. Reads only: nothing is written.
 */
import type { AlpacaSubledgerBroker } from '../broker/alpaca-subledger-broker.js';
import { latestReconciliation } from '../broker/subledger/events.js';
import { describeReconciliation } from '../broker/subledger/reconciliation.js';
import type { Reconciliation } from '../ports/broker.js';
import type { BooksPnl } from '../ledger/account-pnl.js';
import type { Db } from '../storage/db.js';
import { positionJson, type PositionJson } from '../broker/order-json.js';
import { money, pad, signedMoney } from './format.js';

export interface SubledgerAccountsReport {
  portfolio: string;
  mode: 'subledger';
  accounts: {
    account_id: number;
    owner: string;
    cash: number;
    equity: number;
    starting_cash: number | null;
    /** equity − starting_cash. */
    pnl_since_start: number | null;
    /** equity − the books' equity at the close before the latest session / at the week's weekly decision (ledger/account-pnl.ts). */
    pnl_today: number | null;
    pnl_week: number | null;
    week_id: string | null;
    /** Why a P/L figure is missing, else null. */
    pnl_note: string | null;
    positions: PositionJson[];
    marked_at: string;
    approximate_marks: boolean;
  }[];
  /** The comparison with Alpaca now. */
  reconciliation: Reconciliation;
  /** The latest one stored after an execution (weekly or checkpoint), or null. */
  last_execution_reconciliation: Reconciliation | null;
}

export async function subledgerAccounts(
  db: Db,
  portfolio: string,
  broker: AlpacaSubledgerBroker,
  accounts: readonly { id: number }[],
  startingCash: ReadonlyMap<number, number>,
  books: ReadonlyMap<number, BooksPnl> = new Map(),
): Promise<SubledgerAccountsReport> {
  const states = await broker.accounts(accounts.map((a) => a.id));
  const last = await latestReconciliation(db, portfolio);
  const reconciliation = await broker.compareNow({ weekId: last?.week_id ?? '', checkpoint: 'accounts' });
  return {
    portfolio,
    mode: 'subledger',
    accounts: states.map((s) => {
      const start = startingCash.get(s.accountId) ?? null;
      const b = books.get(s.accountId);
      const since = (x: number | null | undefined) => (x === null || x === undefined ? null : Math.round((s.equity - x) * 100) / 100);
      return {
        account_id: s.accountId,
        owner: s.owner,
        cash: s.cash,
        equity: s.equity,
        starting_cash: start,
        pnl_since_start: since(start),
        pnl_today: since(b?.day_start_equity),
        pnl_week: since(b?.week_start_equity),
        week_id: b?.week_id ?? null,
        pnl_note: b?.note ?? null,
        positions: s.positions.map(positionJson),
        marked_at: s.markedAt,
        approximate_marks: s.approximateMarks,
      };
    }),
    reconciliation,
    last_execution_reconciliation: last,
  };
}

export function renderSubledgerAccounts(r: SubledgerAccountsReport): string {
  const lines = [`portfolio ${r.portfolio}: six sub-ledgers of one Alpaca paper account (books, marked at Alpaca's prices)`];
  const week = r.accounts.find((a) => a.week_id)?.week_id;
  lines.push(`today: since the close before the latest session${week ? `; week: since the weekly decision of ${week}` : ''}`);
  lines.push(
    `${pad('acct', 6)}${pad('owner', 10)}${pad('cash', 16)}${pad('equity', 16)}${pad('today', 14)}${pad('week', 14)}${pad('since start', 14)}positions`,
  );
  const pnl = (x: number | null): string => (x === null ? '-' : signedMoney(x));
  for (const a of r.accounts) {
    const held = a.positions.map((p) => `${p.qty} ${p.ticker}`).join(', ') || 'flat';
    lines.push(
      `${pad(String(a.account_id), 6)}${pad(a.owner, 10)}${pad(money(a.cash), 16)}${pad(money(a.equity), 16)}${pad(pnl(a.pnl_today), 14)}${pad(pnl(a.pnl_week), 14)}${pad(pnl(a.pnl_since_start), 14)}${held}${a.approximate_marks ? '  (marks approximate)' : ''}`,
    );
    if (a.pnl_note) lines.push(`${pad('', 6)}${a.pnl_note}`);
  }
  const rec = r.reconciliation;
  const alpacaHeld =
    rec.positions
      .filter((p) => p.broker !== null && p.broker !== 0)
      .map((p) => `${p.broker} ${p.ticker}`)
      .join(', ') || 'flat';
  lines.push(
    '',
    `Alpaca's paper account now: cash ${money(rec.cash.broker)}, equity ${money(rec.broker_equity)}, positions ${rec.status === 'unavailable' ? '-' : alpacaHeld}`,
  );
  lines.push(`${pad('ticker', 8)}${pad('Alpaca', 10)}${pad('books', 10)}${pad('difference', 12)}sub-ledgers`);
  for (const p of rec.positions) {
    const by = Object.entries(p.accounts)
      .map(([id, q]) => `${id}: ${q}`)
      .join(', ');
    lines.push(
      `${pad(p.ticker, 8)}${pad(String(p.broker ?? '-'), 10)}${pad(String(p.books), 10)}${pad(String(p.difference ?? '-'), 12)}${by}`,
    );
  }
  lines.push(
    `${pad('cash', 8)}Alpaca ${money(rec.cash.broker)} · sub-ledgers ${money(rec.cash.books)} + unallocated ${money(rec.cash.unallocated)} · difference ${money(rec.cash.difference)}`,
  );
  lines.push(describeReconciliation(rec));
  const last = r.last_execution_reconciliation;
  lines.push(
    last
      ? `last reconciliation after an execution: ${last.status} (${last.at}, week ${last.week_id}, ${last.checkpoint})`
      : 'no reconciliation after an execution yet',
  );
  return `${lines.join('\n')}\n`;
}
