import { randomUUID } from 'node:crypto';
import { and, asc, eq, getTableColumns, inArray, like, sql } from 'drizzle-orm';
import type { Artifacts } from '../storage/artifacts.js';
import type { Db, Tx } from '../storage/db.js';
import { appendEvent, appendEvents } from '../storage/event-store.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { encodedAs, reusableRows, reusableStatement, type Slots } from '../storage/reusable-query.js';
import { events, runs, stageRuns } from '../storage/schema.js';
import { describeError } from '../errors.js';
import { QuorumError, type SeatStatus } from './fan-out.js';
import type { ProgressListener } from './progress.js';
import { STAGES, type PipelineContext, type RawRecord, type Stage, type StageName, type StageOutputs } from './stage.js';
import { UserError } from '../errors.js';

export class MissingInputError extends UserError {}

export class StageFailedError extends Error {
  constructor(
    readonly stage: StageName,
    message: string,
    /** For a stage that missed its quorum: each seat, answered or not and why. */
    readonly seats?: readonly SeatStatus[],
  ) {
    super(`${stage} failed: ${message}`);
  }
}

/** The CLI command that produces each stage's output, for "run X first" messages. */
export const COMMAND_OF: Record<StageName, string> = {
  snapshot: 'research',
  research: 'research',
  pm_pitches: 'pm_pitches',
  peer_review: 'peer_review',
  chairman: 'chairman',
  risk: 'execute --all-accounts',
  execute: 'execute --all-accounts',
};

export interface RunOptions {
  /** Re-run stages that already completed (and invalidate the stages after them). */
  force?: boolean;
}

/** Event keys of one stage attempt: `<portfolio>:<week>:<stage>:<attempt>:…`. */
function attemptKey(run: RunKey, stage: StageName, attempt: string): string {
  return `${run.portfolio}:${run.weekId}:${stage}:${attempt}`;
}

/**
 * Runs stages in order. Each stage's output is persisted, in one transaction with its queryable rows,
 * its audit events and its artifact files, before the next stage starts; a stage that fails writes
 * nothing but a 'failed' marker. A completed stage is skipped unless forced, so re-running resumes at
 * the first incomplete stage.
 */
export class Pipeline {
  private readonly outputs = new Map<StageName, unknown>();

  constructor(
    private readonly db: Db,
    private readonly artifacts: Artifacts,
    private readonly stages: ReadonlyMap<StageName, Stage>,
    private readonly listener: ProgressListener,
    private readonly run_: RunKey,
  ) {}

  /**
   * Loads the completed outputs of the week so later stages can read them, and rewrites the artifact
   * files of completed stages that are missing (a write that a crash or a full disk interrupted).
   */
  async load(): Promise<Set<StageName>> {
    const rows = await stageRunsOfWeek(this.db, this.run_);
    this.outputs.clear();
    const completed = new Set<StageName>();
    for (const row of rows) {
      if (row.status !== 'completed') continue;
      const stage = row.stage as StageName;
      completed.add(stage);
      this.outputs.set(stage, row.output);
    }
    this.artifacts.sweepTemporaryFiles(this.run_.weekId);
    for (const row of rows) {
      if (row.status !== 'completed' || this.artifacts.hasStage(this.run_.weekId, row.stage)) continue;
      const raw = row.attempt ? await this.rawOf(row.stage as StageName, row.attempt) : [];
      await this.artifacts.writeStage(this.run_.weekId, row.stage, row.output, raw);
    }
    return completed;
  }

  /** The raw answers an attempt recorded in the event log. */
  private async rawOf(stage: StageName, attempt: string): Promise<RawRecord[]> {
    const prefix = `${attemptKey(this.run_, stage, attempt)}:raw:`;
    const rows = await this.db
      .select({ seat: events.seat, payload: events.payload })
      .from(events)
      .where(
        and(ofRun(events, this.run_), eq(events.kind, 'agent_raw'), like(events.idempotencyKey, `${prefix.replace(/[\\%_]/g, '\\$&')}%`)),
      )
      .orderBy(asc(events.id));
    return rows.map((r) => ({ name: r.seat ?? 'unknown', text: String((r.payload as { text?: unknown }).text ?? '') }));
  }

  output<S extends StageName>(stage: S): StageOutputs[S] {
    if (!this.outputs.has(stage)) {
      const week = this.run_.weekId;
      throw new MissingInputError(
        `${stage} has not completed for week ${week}: run \`llm-trading ${COMMAND_OF[stage]} --week ${week}\` first`,
      );
    }
    return this.outputs.get(stage) as StageOutputs[S];
  }

  has(stage: StageName): boolean {
    return this.outputs.has(stage);
  }

  /**
   * Throws MissingInputError when a stage of `names` needs an output that is neither completed nor made
   * by an earlier stage of `names`: checked before anything is written, so a refused command leaves
   * nothing behind.
   */
  check(names: readonly StageName[]): void {
    const available = new Set(STAGES.filter((s) => this.has(s)));
    for (const name of names) {
      const stage = this.stages.get(name);
      if (!stage) throw new Error(`unknown stage ${name}`);
      for (const input of stage.inputs) if (!available.has(input)) this.output(input);
      available.add(name);
    }
  }

  async run(ctx: PipelineContext, names: readonly StageName[], options: RunOptions = {}): Promise<void> {
    for (const name of names) {
      const stage = this.stages.get(name);
      if (!stage) throw new Error(`unknown stage ${name}`);
      if (this.has(name) && !options.force) {
        this.listener({
          type: 'stage_skipped',
          week_id: this.run_.weekId,
          stage: name,
          reason: 'already completed (use --force to re-run)',
        });
        continue;
      }
      for (const input of stage.inputs) this.output(input);
      await this.runStage(ctx, stage, options.force === true);
    }
  }

  private async runStage(ctx: PipelineContext, stage: Stage, forced: boolean): Promise<void> {
    const run = this.run_;
    const attempt = randomUUID();
    const started = new Date();
    const t0 = performance.now();
    this.listener({ type: 'stage_started', week_id: run.weekId, stage: stage.name });
    let result: Awaited<ReturnType<Stage['run']>>;
    try {
      result = await stage.run(ctx);
    } catch (error) {
      const message = describeError(error);
      await this.recordFailure(stage.name, attempt, started, message);
      this.listener({ type: 'stage_failed', week_id: run.weekId, stage: stage.name, ms: performance.now() - t0, error: message });
      throw new StageFailedError(stage.name, message, error instanceof QuorumError ? error.seats : undefined);
    }
    const downstream = forced ? STAGES.slice(STAGES.indexOf(stage.name) + 1).filter((s) => s !== 'execute') : [];
    const key = attemptKey(run, stage.name, attempt);
    try {
      await this.db.transaction(async (tx) => {
        // A stage's rows are written only with its completion (below), so a stage that has not
        // completed this week has none to clear.
        if (this.has(stage.name)) await stage.clear?.(tx, run);
        await stage.persist?.(tx, run, result.output as never);
        await appendEvents(
          tx,
          (result.raw ?? []).map((raw) => ({
            key: `${key}:raw:${raw.name}`,
            portfolio: run.portfolio,
            weekId: run.weekId,
            kind: 'agent_raw',
            stage: stage.name,
            seat: raw.name,
            payload: { text: raw.text },
          })),
        );
        await recordCompletion(tx, run, {
          stage: stage.name,
          output: result.output,
          attempt,
          startedAt: started,
          eventKey: `${key}:completed`,
        });
        if (downstream.length > 0) {
          // A re-run upstream stage makes later outputs stale; their rows go too. Orders placed by
          // execute are never undone: a re-execution trades only the difference to the new target.
          for (const name of downstream) await this.stages.get(name)?.clear?.(tx, run);
          await tx.delete(stageRuns).where(and(ofRun(stageRuns, run), inArray(stageRuns.stage, downstream)));
        }
        // The files last, still inside the transaction: if they cannot be written, nothing commits.
        try {
          await this.artifacts.writeStage(run.weekId, stage.name, result.output, result.raw ?? []);
        } catch (error) {
          throw new Error(`cannot write the artifacts under ${this.artifacts.dirOf(run.weekId)}: ${describeError(error)}`);
        }
      });
    } catch (error) {
      // The transaction rolled back: none of this stage's rows exist. Record the failure on its own.
      const message = `could not persist the output: ${describeError(error)}`;
      await this.recordFailure(stage.name, attempt, started, message);
      this.listener({ type: 'stage_failed', week_id: run.weekId, stage: stage.name, ms: performance.now() - t0, error: message });
      throw new StageFailedError(stage.name, message);
    }
    for (const name of downstream) this.outputs.delete(name);
    this.outputs.set(stage.name, result.output);
    this.listener({
      type: 'stage_completed',
      week_id: run.weekId,
      stage: stage.name,
      ms: performance.now() - t0,
      summary: result.summary ?? '',
    });
  }

  /** Best effort: when the database itself is what failed (a full disk), the original error still reaches the user. */
  private async recordFailure(stage: StageName, attempt: string, started: Date, message: string): Promise<void> {
    const run = this.run_;
    try {
      await this.db.transaction(async (tx) => {
        // A failed stage leaves no output. A forced re-run that fails keeps the earlier completed output.
        await tx
          .insert(stageRuns)
          .values({ ...run, stage, status: 'failed', output: null, error: message, attempt, startedAt: started, finishedAt: new Date() })
          .onConflictDoUpdate({
            target: [stageRuns.portfolio, stageRuns.weekId, stageRuns.stage],
            set: { error: message, startedAt: started, finishedAt: new Date() },
            setWhere: sql`${stageRuns.status} <> 'completed'`,
          });
        await appendEvent(tx, {
          key: `${attemptKey(run, stage, attempt)}:failed`,
          portfolio: run.portfolio,
          weekId: run.weekId,
          kind: 'stage_failed',
          stage,
          payload: { error: message },
        });
      });
    } catch {
      // Nothing more to do: the caller reports the stage's own error.
    }
  }
}

/**
 * A stage's completion in one statement: its stage_runs row (the output), its 'stage_completed' event
 * (the same output, taken from that row: the payload is sent and parsed once, not twice; outputs are
 * tens of KB) and the run's updated_at.
 */
async function recordCompletion(
  tx: Tx,
  run: RunKey,
  completion: { stage: StageName; output: unknown; attempt: string; startedAt: Date; eventKey: string },
): Promise<void> {
  await completeStage(tx, { ...run, ...completion, finishedAt: new Date() });
}

const stageRunsOfWeek = reusableRows(getTableColumns(stageRuns), (db, $: Slots<RunKey>, fields) =>
  db.select(fields).from(stageRuns).where(ofRun(stageRuns, $)),
);

/** The stage's row, the run's `updated_at` and the `stage_completed` event, in one statement. */
const completeStage = reusableStatement<
  RunKey & {
    stage: StageName;
    output: unknown;
    attempt: string;
    startedAt: Date;
    finishedAt: Date;
    eventKey: string;
  }
>((tx, $) => {
  const stageRun = tx
    .insert(stageRuns)
    .values({
      portfolio: $.portfolio,
      weekId: $.weekId,
      stage: $.stage,
      status: 'completed',
      output: $.output,
      error: null,
      attempt: $.attempt,
      startedAt: $.startedAt,
      finishedAt: $.finishedAt,
    })
    .onConflictDoUpdate({
      // `excluded`: the output is sent once, not a second time for the update.
      target: [stageRuns.portfolio, stageRuns.weekId, stageRuns.stage],
      set: {
        status: 'completed',
        output: sql`excluded.output`,
        error: null,
        attempt: sql`excluded.attempt`,
        startedAt: sql`excluded.started_at`,
        finishedAt: sql`excluded.finished_at`,
      },
    })
    .returning({ output: stageRuns.output });
  const touch = tx
    .update(runs)
    .set({ updatedAt: encodedAs($.finishedAt, runs.updatedAt) })
    .where(ofRun(runs, $));
  const column = (c: { name: string }) => sql.identifier(c.name);
  return sql`
    with completed_stage as ${stageRun}, touched_run as ${touch}
    insert into ${events} (${column(events.idempotencyKey)}, ${column(events.portfolio)}, ${column(events.weekId)}, ${column(events.kind)}, ${column(events.stage)}, ${column(events.payload)})
    select ${$.eventKey}, ${$.portfolio}, ${$.weekId}, 'stage_completed', ${$.stage}, ${column(stageRuns.output)} from completed_stage
    on conflict (${column(events.idempotencyKey)}) do nothing`;
});
