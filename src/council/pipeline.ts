import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Artifacts } from '../storage/artifacts.js';
import type { Db } from '../storage/db.js';
import { appendEvent, appendEvents } from '../storage/event-store.js';
import { runs, stageRuns } from '../storage/schema.js';
import { errorMessage, QuorumError, type SeatStatus } from './fan-out.js';
import type { ProgressListener } from './progress.js';
import { STAGES, type PipelineContext, type Stage, type StageName, type StageOutputs } from './stage.js';

export class MissingInputError extends Error {}

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

/**
 * Runs stages in order. Each stage's output is persisted, in one transaction with its queryable rows
 * and its audit event, before the next stage starts; a stage that fails writes nothing but a
 * 'failed' marker. A completed stage is skipped unless forced, so re-running resumes at the first
 * incomplete stage.
 */
export class Pipeline {
  private readonly outputs = new Map<StageName, unknown>();

  constructor(
    private readonly db: Db,
    private readonly artifacts: Artifacts,
    private readonly stages: ReadonlyMap<StageName, Stage>,
    private readonly listener: ProgressListener,
  ) {}

  /** Loads completed outputs of the week so later stages can read them. */
  async load(weekId: string): Promise<Set<StageName>> {
    const rows = await this.db.select().from(stageRuns).where(eq(stageRuns.weekId, weekId));
    const completed = new Set<StageName>();
    for (const row of rows) {
      if (row.status !== 'completed') continue;
      const stage = row.stage as StageName;
      completed.add(stage);
      this.outputs.set(stage, row.output);
    }
    return completed;
  }

  output<S extends StageName>(weekId: string, stage: S): StageOutputs[S] {
    if (!this.outputs.has(stage)) {
      throw new MissingInputError(
        `${stage} has not completed for week ${weekId}: run \`llm-trading ${COMMAND_OF[stage]} --week ${weekId}\` first`,
      );
    }
    return this.outputs.get(stage) as StageOutputs[S];
  }

  has(stage: StageName): boolean {
    return this.outputs.has(stage);
  }

  async run(ctx: PipelineContext, names: readonly StageName[], options: RunOptions = {}): Promise<void> {
    const weekId = ctx.week.week_id;
    for (const name of names) {
      const stage = this.stages.get(name);
      if (!stage) throw new Error(`unknown stage ${name}`);
      if (this.has(name) && !options.force) {
        this.listener({ type: 'stage_skipped', week_id: weekId, stage: name, reason: 'already completed (use --force to re-run)' });
        continue;
      }
      for (const input of stage.inputs) this.output(weekId, input);
      await this.runStage(ctx, stage, options.force === true);
    }
  }

  private async runStage(ctx: PipelineContext, stage: Stage, forced: boolean): Promise<void> {
    const weekId = ctx.week.week_id;
    const attempt = randomUUID();
    const started = new Date();
    const t0 = performance.now();
    this.listener({ type: 'stage_started', week_id: weekId, stage: stage.name });
    let result: Awaited<ReturnType<Stage['run']>>;
    try {
      result = await stage.run(ctx);
    } catch (error) {
      const message = errorMessage(error);
      await this.recordFailure(weekId, stage.name, attempt, started, message);
      this.listener({ type: 'stage_failed', week_id: weekId, stage: stage.name, ms: performance.now() - t0, error: message });
      throw new StageFailedError(stage.name, message, error instanceof QuorumError ? error.seats : undefined);
    }
    const downstream = forced ? STAGES.slice(STAGES.indexOf(stage.name) + 1).filter((s) => s !== 'execute') : [];
    try {
      await this.db.transaction(async (tx) => {
        await stage.clear?.(tx, weekId);
        await stage.persist?.(tx, weekId, result.output as never);
        await tx
          .insert(stageRuns)
          .values({
            weekId,
            stage: stage.name,
            status: 'completed',
            output: result.output,
            error: null,
            startedAt: started,
            finishedAt: new Date(),
          })
          .onConflictDoUpdate({
            // `excluded`: the output is sent once, not a second time for the update (it can be tens of KB).
            target: [stageRuns.weekId, stageRuns.stage],
            set: {
              status: 'completed',
              output: sql`excluded.output`,
              error: null,
              startedAt: sql`excluded.started_at`,
              finishedAt: sql`excluded.finished_at`,
            },
          });
        await appendEvents(
          tx,
          (result.raw ?? []).map((raw) => ({
            key: `${weekId}:${stage.name}:${attempt}:raw:${raw.name}`,
            weekId,
            kind: 'agent_raw',
            stage: stage.name,
            seat: raw.name,
            payload: { text: raw.text },
          })),
        );
        await appendEvent(tx, {
          key: `${weekId}:${stage.name}:${attempt}:completed`,
          weekId,
          kind: 'stage_completed',
          stage: stage.name,
          payload: result.output,
        });
        if (downstream.length > 0) {
          // A re-run upstream stage makes later outputs stale; their rows go too. Orders placed by
          // execute are never undone: re-executing is idempotent by client_order_id.
          for (const name of downstream) await this.stages.get(name)?.clear?.(tx, weekId);
          await tx.delete(stageRuns).where(and(eq(stageRuns.weekId, weekId), inArray(stageRuns.stage, downstream)));
        }
        await tx.update(runs).set({ updatedAt: new Date() }).where(eq(runs.weekId, weekId));
      });
    } catch (error) {
      // The transaction rolled back: none of this stage's rows exist. Record the failure on its own.
      const message = `could not persist the output: ${errorMessage(error)}`;
      await this.recordFailure(weekId, stage.name, attempt, started, message);
      this.listener({ type: 'stage_failed', week_id: weekId, stage: stage.name, ms: performance.now() - t0, error: message });
      throw new StageFailedError(stage.name, message);
    }
    for (const name of downstream) this.outputs.delete(name);
    this.outputs.set(stage.name, result.output);
    this.artifacts.writeStage(weekId, stage.name, result.output, result.raw ?? []);
    this.listener({
      type: 'stage_completed',
      week_id: weekId,
      stage: stage.name,
      ms: performance.now() - t0,
      summary: result.summary ?? '',
    });
  }

  private async recordFailure(weekId: string, stage: StageName, attempt: string, started: Date, message: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      // A failed stage leaves no output. A forced re-run that fails keeps the earlier completed output.
      await tx
        .insert(stageRuns)
        .values({ weekId, stage, status: 'failed', output: null, error: message, startedAt: started, finishedAt: new Date() })
        .onConflictDoUpdate({
          target: [stageRuns.weekId, stageRuns.stage],
          set: { error: message, startedAt: started, finishedAt: new Date() },
          setWhere: sql`${stageRuns.status} <> 'completed'`,
        });
      await appendEvent(tx, {
        key: `${weekId}:${stage}:${attempt}:failed`,
        weekId,
        kind: 'stage_failed',
        stage,
        payload: { error: message },
      });
    });
  }
}
