import { createHash, randomBytes } from 'node:crypto';
import type { App } from '../app.js';
import { checkTimeMovesForward, ensurePortfolio, TimeTravelError } from '../portfolio/portfolio.js';
import type { WeekContext } from '../ports/agents.js';
import { describeError } from '../errors.js';
import { and, ne, sql } from 'drizzle-orm';
import { encodedAs, reusableStatement } from '../storage/reusable-query.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { runs } from '../storage/schema.js';
import { executeStage, pendingOpenOrders } from './stages/execute.js';
import type { OrderRequest } from '../ports/broker.js';
import { orderRequestJson } from '../broker/order-json.js';
import { chairmanStage } from './stages/chairman.js';
import { peerReviewStage } from './stages/peer-review.js';
import { pmPitchesStage } from './stages/pm-pitches.js';
import { researchStage } from './stages/research.js';
import { riskStage } from './stages/risk.js';
import { snapshotStage } from './stages/snapshot.js';
import { MissingInputError, Pipeline, StageFailedError, type RunOptions } from './pipeline.js';
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

/** The stages that touch the books: they run under the portfolio's books lock, in time order. */
const TRADING_STAGES: readonly StageName[] = ['risk', 'execute'];

export interface WeeklyRunOptions extends RunOptions {
  accountFilter?: readonly number[];
  signal?: AbortSignal;
  /**
   * Measure `held_to_week_end` (default true). A whole week (`week`, backtests) says no: its postmortem
   * measures the week after the checkpoints, while this would measure it before them, as if nothing
   * had traded since Wednesday — a second, different P/L for one week, and a second measurement paid.
   */
  heldToWeekEnd?: boolean;
}

export interface WeeklyRunOutcome {
  result: WeeklyResult;
  /** The error that stopped the run, if any (the result then has status partial or failed). */
  error: Error | null;
}

/** Lock names: the week being run, and the books of the portfolio (see storage/locks.ts). */
export const weekLockName = (run: RunKey) => `week:${run.portfolio}:${run.weekId}`;
export const booksLockName = (portfolio: string) => `books:${portfolio}`;

/**
 * Runs the given stages of one week (all of them for run_weekly), resuming after completed ones, and
 * returns the machine-readable result — also when a stage fails, so scripts see how far it got.
 *
 * Concurrency. The whole run holds the week's lock: a second process on the same week waits, then
 * finds the stages done and resumes after them instead of re-running them. Risk and execute also hold
 * the portfolio's books lock, under which the portfolio's clock is checked: a week before the
 * portfolio's latest traded week is refused (time only moves forward in a portfolio).
 *
 * Nothing is written for a command that cannot run (a step whose inputs are missing, a week in the
 * portfolio's past): those checks come before the run row.
 */
export async function runWeek(
  app: App,
  week: WeekInfo,
  stages: readonly StageName[],
  options: WeeklyRunOptions,
  listener: ProgressListener,
): Promise<WeeklyRunOutcome> {
  const run: RunKey = { portfolio: app.portfolio, weekId: week.week_id };
  const pipeline = new Pipeline(app.store.db, app.artifacts, WEEKLY_STAGES, listener, run);
  const waitFor = (what: string) => ({
    timeoutMs: app.lockTimeoutMs,
    onWait: () => listener({ type: 'waiting', week_id: week.week_id, what }),
  });
  const releaseWeek = await app.store.locks.acquire(weekLockName(run), waitFor(`another process running the week of ${week.week_id}`));
  try {
    return await runLocked(app, week, run, pipeline, stages, options, listener, waitFor);
  } finally {
    await releaseWeek();
  }
}

async function runLocked(
  app: App,
  week: WeekInfo,
  run: RunKey,
  pipeline: Pipeline,
  stages: readonly StageName[],
  options: WeeklyRunOptions,
  listener: ProgressListener,
  waitFor: (what: string) => { timeoutMs: number; onWait: () => void },
): Promise<WeeklyRunOutcome> {
  await pipeline.load();
  const ctx = contextOf(app, week, pipeline, options, listener);
  // Executing a subset of accounts places their orders but does not complete the stage: the week's
  // execution is done only when every account has been executed.
  const partialExecution = options.accountFilter !== undefined && stages.includes('execute');
  const pipelineStages = partialExecution ? stages.filter((s) => s !== 'execute') : stages;
  // No bar for the fill day yet (the run is before the data has it, as live at 08:00 on a Wednesday):
  // the decision stages and risk run, and the orders wait for the open (`pending_open`).
  const awaitingOpen = week.fill_date > (await app.marketData.coverage(app.config.tickers)).last;
  const decisionStages = pipelineStages.filter((s) => !TRADING_STAGES.includes(s));
  const tradingStages = pipelineStages.filter((s) => TRADING_STAGES.includes(s) && !(awaitingOpen && s === 'execute'));
  const trades = partialExecution || tradingStages.some((s) => options.force || !pipeline.has(s));

  // A re-run of a finished week reads what it stored and writes nothing.
  const nothingToDo = !partialExecution && !options.force && pipelineStages.every((s) => pipeline.has(s));

  let error: Error | null = null;
  let partialOutput: StageOutputs['execute'] | null = null;
  let pendingOrders: OrderRequest[] | null = null;
  let started = false;
  const acquireBooks = () =>
    app.store.locks.acquire(booksLockName(app.portfolio), waitFor(`another process trading portfolio ${app.portfolio}`));
  try {
    if (nothingToDo) {
      for (const stage of pipelineStages)
        listener({ type: 'stage_skipped', week_id: week.week_id, stage, reason: 'already completed (use --force to re-run)' });
      // A process killed after its last stage committed left the row 'running': set it right.
      const status = statusOf(pipeline, null, awaitingOpen);
      await app.store.db
        .update(runs)
        .set({ status, error: null, updatedAt: new Date() })
        .where(and(ofRun(runs, run), ne(runs.status, status)));
      return await finish(app, week, pipeline, null, null, null, awaitingOpen, options);
    }
    // Refusals first: they leave nothing behind and cost nothing.
    pipeline.check(pipelineStages);
    if (awaitingOpen && partialExecution)
      throw new MissingInputError(
        `no market data for the ${week.fill_date} open yet: the week's orders wait for it (run the week again then)`,
      );
    const touchesBooks = tradingStages.length > 0 || partialExecution;
    // With nothing to decide first (the books of a decided week: a backtest's, every week), the books
    // lock is taken before the clock is read, so that one reading holds until the week has traded.
    const decides = decisionStages.some((s) => options.force || !pipeline.has(s));
    const releaseBooks = touchesBooks && !decides ? await acquireBooks() : null;
    try {
      if (trades) await checkTimeMovesForward(app.store.db, app.portfolio, week.week_id);
      await ensurePortfolioOnce(app);
      await ensureRunRow(app, week, run);
      started = true;
      await pipeline.run(ctx, decisionStages, options);
      if (touchesBooks) {
        const releaseLater = releaseBooks ? null : await acquireBooks();
        try {
          // Again under the lock: another process may have traded a later week meanwhile.
          if (trades && releaseLater) await checkTimeMovesForward(app.store.db, app.portfolio, week.week_id);
          await pipeline.run(ctx, tradingStages, options);
          if (partialExecution) partialOutput = await runPartialExecution(ctx, listener, pipeline.has('execute'));
          if (awaitingOpen && pipeline.has('risk')) pendingOrders = await pendingOpenOrders(ctx);
        } finally {
          await releaseLater?.();
        }
      }
    } finally {
      await releaseBooks?.();
    }
  } catch (e) {
    error = e instanceof Error ? e : new Error(describeError(e));
  }
  const status = statusOf(pipeline, error, awaitingOpen);
  if (started) {
    try {
      await setRunStatus(app.store.db, { ...run, status, error: error ? describeError(error) : null, now: new Date() });
    } catch (e) {
      // The database itself failed (a full disk): the run's own error is the one to report.
      error ??= e instanceof Error ? e : new Error(describeError(e));
    }
  }
  return finish(app, week, pipeline, error, partialOutput, pendingOrders, awaitingOpen, options);
}

function statusOf(pipeline: Pipeline, error: Error | null, awaitingOpen: boolean): WeeklyResult['status'] {
  const completed = STAGES.filter((s) => pipeline.has(s)).length;
  if (!error && awaitingOpen && pipeline.has('risk') && !pipeline.has('execute')) return 'pending_open';
  return completed === STAGES.length ? 'completed' : error && completed === 0 ? 'failed' : 'partial';
}

async function finish(
  app: App,
  week: WeekInfo,
  pipeline: Pipeline,
  error: Error | null,
  partialOutput: StageOutputs['execute'] | null,
  pendingOrders: OrderRequest[] | null,
  awaitingOpen: boolean,
  options: WeeklyRunOptions,
): Promise<WeeklyRunOutcome> {
  const completed = new Set(STAGES.filter((s) => pipeline.has(s)));
  const output = <S extends StageName>(s: S): StageOutputs[S] | null => {
    if (s === 'execute' && partialOutput) return partialOutput as StageOutputs[S];
    return pipeline.has(s) ? pipeline.output(s) : null;
  };
  const result = await buildWeeklyResult(app, week, statusOf(pipeline, error, awaitingOpen), completed, output, {
    heldToWeekEnd: options.heldToWeekEnd !== false,
  });
  if (pendingOrders) result.pending_orders = pendingOrders.map(orderRequestJson);
  if (error instanceof StageFailedError)
    result.failed_stage = { stage: error.stage, error: error.message, ...(error.seats ? { seats: [...error.seats] } : {}) };
  if (error instanceof MissingInputError || error instanceof TimeTravelError) result.refused = true;
  return { result, error };
}

function contextOf(app: App, week: WeekInfo, pipeline: Pipeline, options: WeeklyRunOptions, listener: ProgressListener): PipelineContext {
  return {
    portfolio: app.portfolio,
    week,
    config: app.config,
    store: app.store,
    marketData: app.marketData,
    broker: app.broker,
    clock: app.clock,
    agents: app.agents,
    ledger: app.ledger,
    accountFilter: options.accountFilter,
    signal: options.signal,
    progress: listener,
    output: (stage) => pipeline.output(stage),
    weekContext: (): WeekContext => ({
      week_id: week.week_id,
      asof_et: week.asof_et,
      universe: app.config.assets.assets,
      snapshot: pipeline.output('snapshot'),
    }),
  };
}

async function runPartialExecution(
  ctx: PipelineContext,
  listener: ProgressListener,
  alreadyCompleted: boolean,
): Promise<StageOutputs['execute']> {
  const t0 = performance.now();
  listener({ type: 'stage_started', week_id: ctx.week.week_id, stage: 'execute' });
  const { output, summary } = await executeStage.run(ctx);
  const note = alreadyCompleted ? ' (the week was already executed)' : '; run `execute --all-accounts` to complete the stage';
  listener({
    type: 'stage_completed',
    week_id: ctx.week.week_id,
    stage: 'execute',
    ms: performance.now() - t0,
    summary: `accounts ${ctx.accountFilter?.join(', ')}: ${summary ?? ''}${note}`,
  });
  return output;
}

/**
 * Apps (one per command) that have ensured their portfolio and written a run row in it. A portfolio
 * holding a run keeps its broker (only an empty one takes another, see ensurePortfolio) and portfolios
 * are never deleted, so ensuring it again would only read the same row: a backtest did, twice a week.
 */
const portfolioEnsured = new WeakSet<App>();

async function ensurePortfolioOnce(app: App): Promise<void> {
  if (portfolioEnsured.has(app)) return;
  await ensurePortfolio(app.store.db, {
    name: app.portfolio,
    kind: app.portfolioKind,
    broker: app.broker.name,
    startingCash: app.config.models.risk.starting_cash,
  });
}

/**
 * The run row records the week's dates and the anonymizer seed before any stage runs. Live LLM runs
 * draw the seed at random; offline runs and backtests derive it from the week, so the review prompts
 * (which pitch gets which label) are the same in every replay and a re-run of a backtest, in any
 * portfolio, is answered from the response cache.
 */
async function ensureRunRow(app: App, week: WeekInfo, run: RunKey): Promise<void> {
  const seed =
    app.agents.mode === 'offline'
      ? createHash('sha256').update(`offline:${week.week_id}`).digest('hex').slice(0, 16)
      : app.portfolioKind === 'backtest'
        ? createHash('sha256').update(`backtest:${week.week_id}`).digest('hex').slice(0, 16)
        : randomBytes(8).toString('hex');
  // A resumed run keeps its row (dates, seed) and is running again: it may have been left 'partial' or
  // 'running' by a killed process.
  await upsertRunRow(app.store.db, {
    ...run,
    asofEt: week.asof_et,
    dataThrough: week.data_through,
    fillDate: week.fill_date,
    mode: app.agents.mode,
    seed,
    now: new Date(),
  });
  portfolioEnsured.add(app);
}

const upsertRunRow = reusableStatement<
  RunKey & { asofEt: string; dataThrough: string; fillDate: string; mode: string; seed: string; now: Date }
>((db, $) =>
  db
    .insert(runs)
    .values({
      portfolio: $.portfolio,
      weekId: $.weekId,
      asofEt: $.asofEt,
      dataThrough: $.dataThrough,
      fillDate: $.fillDate,
      mode: $.mode,
      seed: $.seed,
      status: 'running',
    })
    .onConflictDoUpdate({ target: [runs.portfolio, runs.weekId], set: { status: 'running', updatedAt: encodedAs($.now, runs.updatedAt) } }),
);

/** The run's status once the week has run as far as it could. */
const setRunStatus = reusableStatement<RunKey & { status: string; error: string | null; now: Date }>((db, $) =>
  db
    .update(runs)
    .set({ status: sql`${$.status}`, error: sql`${$.error}`, updatedAt: encodedAs($.now, runs.updatedAt) })
    .where(ofRun(runs, $)),
);
