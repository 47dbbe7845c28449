import { and, asc, eq } from 'drizzle-orm';
import { insertRows } from './bulk-insert.js';
import type { Db, Tx } from './db.js';
import type { RunKey } from './run-key.js';
import { events } from './schema.js';

export interface NewEvent {
  /** Unique: appending an event whose key exists is a no-op, so retries never duplicate the log. */
  key: string;
  /** The portfolio the event belongs to (null for none). */
  portfolio: string | null;
  weekId: string | null;
  kind: string;
  stage?: string | null;
  seat?: string | null;
  payload: unknown;
}

/** Append to the audit log. Returns false when an event with this key was already recorded. */
export async function appendEvent(db: Db | Tx, event: NewEvent): Promise<boolean> {
  return (await appendEvents(db, [event])) > 0;
}

function eventRow(event: NewEvent): typeof events.$inferInsert {
  return {
    idempotencyKey: event.key,
    portfolio: event.portfolio,
    weekId: event.weekId,
    kind: event.kind,
    stage: event.stage ?? null,
    seat: event.seat ?? null,
    payload: event.payload as object,
  };
}

/** Append several events in one statement (in order: their ids follow it); returns how many were new. */
export async function appendEvents(db: Db | Tx, batch: readonly NewEvent[]): Promise<number> {
  return insertRows(db, events, batch.map(eventRow), { onConflictDoNothing: { target: events.idempotencyKey } });
}

export async function eventsOfWeek(db: Db | Tx, run: RunKey, kind?: string) {
  const where = [eq(events.portfolio, run.portfolio), eq(events.weekId, run.weekId)];
  if (kind) where.push(eq(events.kind, kind));
  return db
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(asc(events.id));
}
