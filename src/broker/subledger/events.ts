/**
 * What the sub-ledger broker keeps in the event log (no table of its own, no migration):
 *
 *   net-order:<net client_order_id>   one net order: its members (the account orders), the legs sent to
 *                                     Alpaca, its state (sending → open → final; unsent when a run died
 *                                     before sending it and its members were planned again), and once
 *                                     final Alpaca's fills and the allocation. Written *before* the first
 *                                     POST, so a run killed between sending and recording finds it.
 *   subledger-start:<portfolio>       the paper account when the sub-ledgers were created: its cash and
 *                                     equity, each sub-ledger's starting cash, the unallocated cash.
 *   reconciliation:<portfolio>:<at>   every reconciliation (ports/broker.ts Reconciliation).
 *
 * Payloads are read back through zod: the database is a boundary like any other.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Reconciliation } from '../../ports/broker.js';
import type { Db, Tx } from '../../storage/db.js';
import { events } from '../../storage/schema.js';

const Side = z.enum(['buy', 'sell']);

const Member = z.object({
  clientOrderId: z.string(),
  sequence: z.number().int().optional(),
  accountId: z.number().int(),
  weekId: z.string(),
  checkpoint: z.string(),
  action: z.string(),
  ticker: z.string(),
  side: Side,
  qty: z.number(),
  type: z.literal('market'),
});

const NetOrderState = z.enum(['sending', 'open', 'final', 'unsent']);

const NetOrder = z.object({
  net_order: z.string(),
  ticker: z.string(),
  week_id: z.string(),
  checkpoint: z.string(),
  /** Signed sum of the members (buys +). */
  net: z.number(),
  time_in_force: z.enum(['opg', 'cls', 'day']),
  /** When the net order fills (the auction's time, or the order's for a day order): an internal cross's fill time. */
  fills_at: z.string(),
  members: z.array(Member),
  legs: z.array(z.object({ client_order_id: z.string(), side: Side, qty: z.number(), short: z.boolean() })),
  state: NetOrderState,
  /** Legs Alpaca refused, with its message. */
  refused: z.record(z.string(), z.string()).default({}),
  /** Alpaca's view of each leg, as last seen. */
  alpaca: z
    .array(
      z.object({
        client_order_id: z.string(),
        id: z.string(),
        status: z.string(),
        filled_qty: z.number(),
        filled_avg_price: z.number().nullable(),
      }),
    )
    .default([]),
  allocation: z
    .object({
      filled_qty: z.number(),
      avg_price: z.number().nullable(),
      price_source: z.string(),
      approximate: z.boolean(),
      shares: z.record(z.string(), z.number()),
      remainder: z.number(),
    })
    .optional(),
});
export type NetOrder = z.infer<typeof NetOrder>;

const Start = z.object({
  alpaca_cash: z.number(),
  alpaca_equity: z.number(),
  starting_cash: z.record(z.string(), z.number()),
  unallocated_cash: z.number(),
});
export type SubledgerStart = z.infer<typeof Start>;

const netKey = (netId: string): string => `net-order:${netId}`;
const stageOf = (checkpoint: string): string => (checkpoint === 'weekly' ? 'execute' : 'checkpoint');

export async function readNetOrder(db: Db | Tx, netId: string): Promise<NetOrder | null> {
  const [row] = await db
    .select({ payload: events.payload })
    .from(events)
    .where(eq(events.idempotencyKey, netKey(netId)));
  return row ? NetOrder.parse(row.payload) : null;
}

export async function writeNetOrder(db: Db | Tx, portfolio: string, net: NetOrder): Promise<void> {
  const payload = NetOrder.parse(net);
  await db
    .insert(events)
    .values({
      idempotencyKey: netKey(net.net_order),
      portfolio,
      weekId: net.week_id,
      kind: 'net-order',
      stage: stageOf(net.checkpoint),
      seat: null,
      payload,
    })
    .onConflictDoUpdate({ target: events.idempotencyKey, set: { payload } });
}

/** The portfolio's net orders in these states (e.g. those still open at Alpaca). */
export async function netOrdersIn(db: Db | Tx, portfolio: string, states: readonly NetOrder['state'][]): Promise<NetOrder[]> {
  const rows = await db
    .select({ payload: events.payload })
    .from(events)
    .where(
      and(eq(events.portfolio, portfolio), eq(events.kind, 'net-order'), inArray(sql<string>`${events.payload}->>'state'`, [...states])),
    )
    .orderBy(events.id);
  return rows.map((r) => NetOrder.parse(r.payload));
}

/** The net order a member order belongs to, from the member's own order event. */
export async function netOrderOfMember(db: Db | Tx, clientOrderId: string): Promise<string | null> {
  const [row] = await db
    .select({ payload: events.payload })
    .from(events)
    .where(eq(events.idempotencyKey, `order:${clientOrderId}`));
  const parsed = z.object({ net_order: z.string() }).safeParse(row?.payload);
  return parsed.success ? parsed.data.net_order : null;
}

export async function readStart(db: Db | Tx, portfolio: string): Promise<SubledgerStart | null> {
  const [row] = await db
    .select({ payload: events.payload })
    .from(events)
    .where(eq(events.idempotencyKey, `subledger-start:${portfolio}`));
  return row ? Start.parse(row.payload) : null;
}

/** Written once, when the sub-ledgers are created; never replaced. */
export async function writeStart(db: Db | Tx, portfolio: string, start: SubledgerStart): Promise<void> {
  await db
    .insert(events)
    .values({
      idempotencyKey: `subledger-start:${portfolio}`,
      portfolio,
      weekId: null,
      kind: 'subledger-start',
      stage: null,
      seat: null,
      payload: Start.parse(start),
    })
    .onConflictDoNothing({ target: events.idempotencyKey });
}

export async function writeReconciliation(db: Db | Tx, portfolio: string, r: Reconciliation): Promise<void> {
  await db
    .insert(events)
    .values({
      idempotencyKey: `reconciliation:${portfolio}:${r.at}:${r.checkpoint}`,
      portfolio,
      weekId: r.week_id,
      kind: 'reconciliation',
      stage: stageOf(r.checkpoint),
      seat: null,
      payload: r,
    })
    .onConflictDoUpdate({ target: events.idempotencyKey, set: { payload: r } });
}

const Stored = z.object({
  at: z.string(),
  week_id: z.string(),
  checkpoint: z.string(),
  status: z.enum(['ok', 'differs', 'unavailable']),
  cash: z.object({
    broker: z.number().nullable(),
    books: z.number(),
    unallocated: z.number(),
    difference: z.number().nullable(),
    tolerance: z.number(),
  }),
  positions: z.array(
    z.object({
      ticker: z.string(),
      broker: z.number().nullable(),
      books: z.number(),
      difference: z.number().nullable(),
      accounts: z.record(z.string(), z.number()),
    }),
  ),
  broker_equity: z.number().nullable(),
  open_orders: z.array(z.object({ client_order_id: z.string(), ticker: z.string(), side: Side, qty: z.number(), filled_qty: z.number() })),
  notes: z.array(z.string()),
  error: z.string().nullable(),
}) satisfies z.ZodType<Reconciliation>;

/**
 * The portfolio's latest stored reconciliation, or null; with `execution`, the latest of that one
 * execution (a week's checkpoint, or 'weekly').
 */
export async function latestReconciliation(
  db: Db | Tx,
  portfolio: string,
  execution?: { weekId: string; checkpoint: string },
): Promise<Reconciliation | null> {
  const [row] = await db
    .select({ payload: events.payload })
    .from(events)
    .where(
      and(
        eq(events.portfolio, portfolio),
        eq(events.kind, 'reconciliation'),
        ...(execution ? [eq(events.weekId, execution.weekId), sql`${events.payload}->>'checkpoint' = ${execution.checkpoint}`] : []),
      ),
    )
    .orderBy(desc(events.id))
    .limit(1);
  return row ? Stored.parse(row.payload) : null;
}
