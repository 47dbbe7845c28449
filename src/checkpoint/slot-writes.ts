/**
 * The rows a checkpoint slot writes once it has decided, held until the next write that must not wait
 * and then written together, in slot order, in one transaction.
 *
 * Why a slot's rows may wait: a slot that places no order changes no books; deciding it again gives
 * the same decisions from the same stored inputs (an LLM owner's answer comes from the response cache),
 * so a crash that loses its rows loses only the time to decide it again: the resumed run finds no row
 * for it and runs it. What may not wait is an order: before a slot places one, every slot before it is
 * written, with the trading slot's 'running' marker, in the same transaction (a crash after the order
 * resumes that slot from its marker and its orders, P3's rule). A trading slot's own remaining rows
 * (its quiet accounts, its completion, its event) then wait like any slot's: its traded accounts are
 * recorded right after their orders, so a resume decides only the others again.
 *
 * The rows of a week's quiet slots thus cost a few statements instead of three to four per slot, and
 * the event log and the checkpoint rows keep the order in which the slots ran.
 */
import type { App } from '../app.js';
import { insertRows } from '../storage/bulk-insert.js';
import { appendEvents, type NewEvent } from '../storage/event-store.js';
import { checkpointRuns, checkpointUpdates } from '../storage/schema.js';
import { allThenThrow } from '../errors.js';

export type CheckpointRunRow = typeof checkpointRuns.$inferInsert;
export type CheckpointUpdateRow = typeof checkpointUpdates.$inferInsert;

interface HeldSlot {
  run: CheckpointRunRow;
  updates: CheckpointUpdateRow[];
  event: NewEvent | null;
  /** The slot's artifact file, written once its rows are (the files follow the database). */
  artifact: { weekId: string; name: string; content: unknown } | null;
}

export class SlotWrites {
  #held: HeldSlot[] = [];

  /** Holds a finished slot's rows until the next flush. */
  hold(slot: HeldSlot): void {
    this.#held.push(slot);
  }

  /**
   * Writes every held slot, and `running` (a slot about to place orders, marked running) with them,
   * in one transaction; then the held slots' artifact files.
   */
  async flush(app: App, running?: CheckpointRunRow): Promise<void> {
    const held = this.#held;
    if (held.length === 0 && !running) return;
    // One row per slot instant (a slot run twice in one call keeps its latest state).
    const runs = new Map<number, CheckpointRunRow>();
    for (const row of [...held.map((h) => h.run), ...(running ? [running] : [])]) {
      runs.delete(row.checkpointAt.getTime());
      runs.set(row.checkpointAt.getTime(), row);
    }
    const updates = held.flatMap((h) => h.updates);
    const events = held.flatMap((h) => (h.event ? [h.event] : []));
    await app.store.db.transaction(async (tx) => {
      await insertRows(tx, checkpointUpdates, updates, { onConflictDoNothing: {} });
      // A slot's row keeps its first `created_at`; a skipped slot is recorded once and never
      // overwrites a row the slot already has.
      const now = new Date();
      await insertRows(
        tx,
        checkpointRuns,
        [...runs.values()].map((row) => ({ ...row, updatedAt: now })),
        {
          onConflictDoUpdate: {
            target: [checkpointRuns.portfolio, checkpointRuns.checkpointAt],
            set: [checkpointRuns.status, checkpointRuns.reason, checkpointRuns.updatedAt],
            where: "excluded.status <> 'skipped'",
          },
        },
      );
      await appendEvents(tx, events);
    });
    this.#held = [];
    await allThenThrow(
      held.flatMap((h) => (h.artifact ? [app.artifacts.writeStage(h.artifact.weekId, h.artifact.name, h.artifact.content, [])] : [])),
    );
  }
}
