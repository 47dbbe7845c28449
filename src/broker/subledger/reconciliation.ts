/**
 * Sub-ledger mode, step three: after every execution, the sum of the six sub-ledgers against the one
 * Alpaca paper account. Pure: no I/O (the broker reads both sides and stores the result).
 *
 * Positions: per ticker, Alpaca's signed quantity against the sum of the sub-ledgers' (opposite
 * sub-ledger positions net here as they do at Alpaca). Cash: Alpaca's cash against the sub-ledgers'
 * cash plus the unallocated part — the cash that was Alpaca's when the sub-ledgers were created and
 * that their starting shares did not hand out (config `subledgers.starting_shares`; a cent or so with
 * equal sixths). Cash may differ by rounding (each sub-ledger's cash moves by round2(qty × price), Alpaca's
 * by its own rounding of the whole order): a cent per allocated fill is tolerated, and the difference is
 * shown all the same. Anything else that moved Alpaca's cash (a deposit, a fee, a trade placed outside
 * this system) is a difference, reported.
 */
import type { Reconciliation, Side } from '../../ports/broker.js';
import { roundCash, roundQty } from '../money.js';

export interface BooksSide {
  accounts: { id: number; cash: number; positions: Record<string, number> }[];
  unallocatedCash: number;
  /** Fills recorded in the sub-ledgers since they were created (for the rounding tolerance). */
  fills: number;
}

export interface BrokerSide {
  cash: number;
  equity: number;
  positions: Record<string, number>;
}

export interface ReconcileInput {
  at: Date;
  weekId: string;
  checkpoint: string;
  books: BooksSide;
  /** null: Alpaca could not be read (`error`). */
  broker: BrokerSide | null;
  error?: string;
  openOrders: { client_order_id: string; ticker: string; side: Side; qty: number; filled_qty: number }[];
}

export function reconcile(input: ReconcileInput): Reconciliation {
  const { books, broker } = input;
  const booksCash = roundCash(books.accounts.reduce((sum, a) => sum + a.cash, 0));
  const tolerance = roundCash(0.01 * Math.max(1, books.fills));
  const tickers = new Set([...books.accounts.flatMap((a) => Object.keys(a.positions)), ...Object.keys(broker?.positions ?? {})]);
  const positions = [...tickers].sort().map((ticker) => {
    const accounts: Record<string, number> = {};
    let sum = 0;
    for (const a of books.accounts) {
      const qty = a.positions[ticker];
      if (qty === undefined || qty === 0) continue;
      accounts[String(a.id)] = qty;
      sum += qty;
    }
    const held = broker ? (broker.positions[ticker] ?? 0) : null;
    const booksQty = roundQty(sum);
    return { ticker, broker: held, books: booksQty, difference: held === null ? null : roundQty(held - booksQty), accounts };
  });
  const difference = broker ? roundCash(broker.cash - booksCash - books.unallocatedCash) : null;
  const notes: string[] = [];
  for (const p of positions) {
    if (p.difference !== null && p.difference !== 0)
      notes.push(`${p.ticker}: Alpaca holds ${p.broker}, the sub-ledgers ${p.books} (difference ${p.difference})`);
    const sides = Object.values(p.accounts);
    if (sides.some((q) => q > 0) && sides.some((q) => q < 0))
      notes.push(`${p.ticker}: sub-ledgers hold it long and short (${fmtAccounts(p.accounts)}); Alpaca holds the net`);
  }
  if (difference !== null && difference !== 0)
    notes.push(
      `cash: Alpaca ${broker!.cash}, sub-ledgers ${booksCash} + unallocated ${books.unallocatedCash} (difference ${difference}${Math.abs(difference) <= tolerance ? ', within rounding' : ''})`,
    );
  if (input.openOrders.length > 0)
    notes.push(`${input.openOrders.length} net order(s) still open at Alpaca: their fills are in neither side yet`);
  const differs = positions.some((p) => p.difference !== 0) || (difference !== null && Math.abs(difference) > tolerance);
  return {
    at: input.at.toISOString(),
    week_id: input.weekId,
    checkpoint: input.checkpoint,
    status: broker === null ? 'unavailable' : differs ? 'differs' : 'ok',
    cash: { broker: broker?.cash ?? null, books: booksCash, unallocated: books.unallocatedCash, difference, tolerance },
    positions,
    broker_equity: broker?.equity ?? null,
    open_orders: input.openOrders,
    notes,
    error: broker === null ? (input.error ?? 'Alpaca could not be read') : null,
  };
}

function fmtAccounts(accounts: Record<string, number>): string {
  return Object.entries(accounts)
    .map(([id, q]) => `account ${id} ${q}`)
    .join(', ');
}

/** One line for a command's output. */
export function describeReconciliation(r: Reconciliation): string {
  if (r.status === 'unavailable') return `reconciliation with Alpaca: UNAVAILABLE (${r.error ?? 'unknown'})`;
  const head =
    r.status === 'ok'
      ? `reconciliation with Alpaca: ok (positions equal; cash difference ${r.cash.difference ?? 0}, tolerance ${r.cash.tolerance})`
      : 'reconciliation with Alpaca: DIFFERS';
  return [head, ...r.notes.map((n) => `  ${n}`)].join('\n');
}
