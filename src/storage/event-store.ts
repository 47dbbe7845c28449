import { and, asc, eq } from 'drizzle-orm';
import type { Db, Tx } from './db.js';
import { events } from './schema.js';

export interface NewEvent {
  /** Unique: appending an event whose key exists is a no-op, so retries never duplicate the log. */
  key: string;
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

/** Append several events in one statement; returns how many were new. */
export async function appendEvents(db: Db | Tx, batch: readonly NewEvent[]): Promise<number> {
  if (batch.length === 0) return 0;
  const inserted = await db
    .insert(events)
    .values(
      batch.map((event) => ({
        idempotencyKey: event.key,
        weekId: event.weekId,
        kind: event.kind,
        stage: event.stage ?? null,
        seat: event.seat ?? null,
        payload: event.payload as object,
      })),
    )
    .onConflictDoNothing({ target: events.idempotencyKey })
    .returning({ id: events.id });
  return inserted.length;
}

export async function eventsOfWeek(db: Db, weekId: string, kind?: string) {
  const where = kind ? and(eq(events.weekId, weekId), eq(events.kind, kind)) : eq(events.weekId, weekId);
  return db.select().from(events).where(where).orderBy(asc(events.id));
}
