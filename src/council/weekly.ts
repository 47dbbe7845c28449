import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { App } from '../app.js';
import type { WeekContext } from '../ports/agents.js';
import { runs } from '../storage/schema.js';
import { errorMessage } from './fan-out.js';
import { executeStage } from './stages/execute.js';
import { chairmanStage } from './stages/chairman.js';
import { peerReviewStage } from './stages/peer-review.js';
import { pmPitchesStage } from './stages/pm-pitches.js';
import { researchStage } from './stages/research.js';
import { riskStage } from './stages/risk.js';
import { snapshotStage } from './stages/snapshot.js';
import { Pipeline, StageFailedError, type RunOptions } from './pipeline.js';
import type { ProgressListener } from './progress.js';
import { STAGES, type PipelineContext, type Stage, type StageName, type StageOutputs } from './stage.js';
import type { WeekInfo } from './week.js';
import { buildWeeklyResult, type WeeklyResult } from './weekly-result.js';

export const WEEKLY_STAGES = new Map<StageName, Stage>(
  [snapshotStage, researchStage, pmPitchesStage, peerReviewStage, chairmanStage, riskStage, executeStage].map((s) => [
    s.name,
    s as unknown as Stage,
  ]),
);

export interface WeeklyRunOptions extends RunOptions {
  accountFilter?: readonly number[];
  signal?: AbortSignal;
}

export interface WeeklyRunOutcome {
  result: WeeklyResult;
  /** The error that stopped the run, if any (the result then has status partial or failed). */
  error: Error | null;
}

/**
 * Runs the given stages of one week (all of them for run_weekly), resuming after completed ones, and
 * returns the machine-readable result — also when a stage fails, so scripts see how far it got.
 */
export async function runWeek(
  app: App,
  week: WeekInfo,
  stages: readonly StageName[],
  options: WeeklyRunOptions,
  listener: ProgressListener,
): Promise<WeeklyRunOutcome> {
  const pipeline = new Pipeline(app.store.db, app.artifacts, WEEKLY_STAGES, listener);
  await ensureRunRow(app, week);
  await pipeline.load(week.week_id);
  const ctx: PipelineContext = {
    week,
    config: app.config,
    store: app.store,
    marketData: app.marketData,
    broker: app.broker,
    clock: app.clock,
    agents: app.agents,
    accountFilter: options.accountFilter,
    signal: options.signal,
    progress: listener,
    output: (stage) => pipeline.output(week.week_id, stage),
    weekContext: (): WeekContext => ({
      week_id: week.week_id,
      asof_et: week.asof_et,
      universe: app.config.assets.assets,
      snapshot: pipeline.output(week.week_id, 'snapshot'),
    }),
  };
  // Executing a subset of accounts places their orders but does not complete the stage: the week's
  // execution is done only when every account has been executed.
  const partialExecution = options.accountFilter !== undefined && stages.includes('execute');
  let error: Error | null = null;
  let partialOutput: StageOutputs['execute'] | null = null;
  try {
    await pipeline.run(ctx, partialExecution ? stages.filter((s) => s !== 'execute') : stages, options);
    if (partialExecution) partialOutput = await runPartialExecution(ctx, listener, pipeline.has('execute'));
  } catch (e) {
    error = e instanceof Error ? e : new Error(errorMessage(e));
  }
  const completed = new Set(STAGES.filter((s) => pipeline.has(s)));
  const status = completed.size === STAGES.length ? 'completed' : error && completed.size === 0 ? 'failed' : 'partial';
  await app.store.db
    .update(runs)
    .set({ status, error: error?.message ?? null, updatedAt: new Date() })
    .where(eq(runs.weekId, week.week_id));
  const output = <S extends StageName>(s: S): StageOutputs[S] | null => {
    if (s === 'execute' && partialOutput) return partialOutput as StageOutputs[S];
    return pipeline.has(s) ? pipeline.output(week.week_id, s) : null;
  };
  const result = await buildWeeklyResult(app, week, status, completed, output);
  if (error instanceof StageFailedError)
    result.failed_stage = { stage: error.stage, error: error.message, ...(error.seats ? { seats: [...error.seats] } : {}) };
  return { result, error };
}

async function runPartialExecution(
  ctx: PipelineContext,
  listener: ProgressListener,
  alreadyCompleted: boolean,
): Promise<StageOutputs['execute']> {
  const t0 = performance.now();
  listener({ type: 'stage_started', week_id: ctx.week.week_id, stage: 'execute' });
  const { output, summary } = await executeStage.run(ctx);
  const note = alreadyCompleted
    ? ' (the week was already executed: orders are duplicates)'
    : '; run `execute --all-accounts` to complete the stage';
  listener({
    type: 'stage_completed',
    week_id: ctx.week.week_id,
    stage: 'execute',
    ms: performance.now() - t0,
    summary: `accounts ${ctx.accountFilter?.join(', ')}: ${summary ?? ''}${note}`,
  });
  return output;
}

/** The run row records the week's dates and the anonymizer seed before any stage runs. */
async function ensureRunRow(app: App, week: WeekInfo): Promise<void> {
  const seed =
    app.agents.mode === 'offline'
      ? createHash('sha256').update(`offline:${week.week_id}`).digest('hex').slice(0, 16)
      : randomBytes(8).toString('hex');
  await app.store.db
    .insert(runs)
    .values({
      weekId: week.week_id,
      asofEt: week.asof_et,
      dataThrough: week.data_through,
      fillDate: week.fill_date,
      mode: app.agents.mode,
      seed,
      status: 'running',
    })
    .onConflictDoNothing();
}
