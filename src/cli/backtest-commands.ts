/**
 * `backtest`, `backtest show NAME` and `backtests` (src/backtest/).
 */
import { checkDecisionWeekday } from '../council/week.js';
import { InterruptedError, UsageError, type CliIo, type CommonOptions } from './io.js';
import { configDirOf, prepare, preparedWeek, withApp } from './commands.js';
import { count, pad } from './format.js';
import { describeLiveProgress, progressFilePath, progressFileWriter, progressFilesOf } from '../backtest/progress-file.js';

export interface BacktestCommandOptions extends CommonOptions {
  from?: string;
  to?: string;
  name?: string;
  offline?: boolean;
  allowOfflineSeats?: boolean;
  workers?: number;
  inProcess?: boolean;
  budgetUsd?: number;
}

export async function backtest(io: CliIo, options: BacktestCommandOptions): Promise<void> {
  if (!options.from || !options.to) throw new UsageError('backtest needs --from and --to (decision Wednesdays, YYYY-MM-DD)');
  if (options.to < options.from) throw new UsageError(`--to ${options.to} is before --from ${options.from}`);
  const { scheduledWeekday } = await import('../config/schedule-day.js');
  const day = scheduledWeekday(configDirOf(io.env));
  if (day) for (const date of [options.from, options.to]) checkDecisionWeekday(date, day);
  const prepared = await prepare(io, undefined, options);
  const [
    { backtestPortfolio, weeksBetween, refusalToContinue, BacktestError },
    { driveBacktest },
    { buildBacktestReport, writeBacktestFiles },
    { renderBacktestReport },
    { backtestProgressBar },
  ] = await Promise.all([
    import('../backtest/backtest.js'),
    import('../backtest/drive.js'),
    import('../backtest/report.js'),
    import('./backtest-summary.js'),
    import('./backtest-progress.js'),
  ]);
  // Both ends must be weeks the data can decide (the last one may still be running in the data).
  await preparedWeek(prepared, options.from);
  await preparedWeek(prepared, options.to);
  const name = options.name ?? `${options.offline ? 'offline' : 'seats'}-${options.from}-${options.to}`;
  const appOptions = {
    ...options,
    portfolio: backtestPortfolio(name),
    portfolioKind: 'backtest' as const,
    offline: options.offline === true,
    allowOfflineSeats: options.allowOfflineSeats === true,
    ...(options.budgetUsd !== undefined ? { backtestBudgetUsd: options.budgetUsd } : {}),
  };
  await withApp(io, prepared, 'backtest', appOptions, async (app) => {
    const weeks = weeksBetween(app.config, options.from as string, options.to as string);
    const llm = app.agents.mode !== 'offline';
    const onQueue = app.store.kind === 'postgres' && options.inProcess !== true;
    // Offline agents are CPU-bound in one thread: deciding weeks ahead gains nothing there.
    const workers = options.workers ?? (onQueue ? 2 : llm ? 4 : 1);
    if (workers < 1 && !onQueue)
      throw new UsageError('--workers 0 only makes sense on PostgreSQL, where `llm-trading worker` processes do the work');
    // A stored backtest this run cannot continue is refused before the header says it starts.
    const refusal = await refusalToContinue(app, name, weeks);
    if (refusal) throw new BacktestError(refusal);
    io.stderr(
      `llm-trading backtest ${name}: ${count(weeks.length, 'week')} ${weeks[0]?.week_id}..${weeks.at(-1)?.week_id}, portfolio ${app.portfolio} ` +
        `(${app.store.location}, ${app.agents.mode} agents, ${onQueue ? `job queue, ${workers} decide slots here` : `in process, ${count(workers, 'week')} deciding at once`})\n`,
    );
    io.stderr((await import('../backtest/contamination.js')).backtestContaminationWarning(app, weeks));
    const started = performance.now();
    const bar = backtestProgressBar(io.stderr, io.stderrIsTTY === true, llm);
    // On the embedded database this process holds the database until the end: `llm-trading
    // backtests` elsewhere reads how far it has got from this file (progress-file.ts).
    const progressFile =
      app.store.kind === 'pglite'
        ? progressFileWriter(progressFilePath(app.env.home, app.portfolio), { name, portfolio: app.portfolio })
        : null;
    const stop = new AbortController();
    // Ctrl-C, or a job runner's SIGTERM: the week in progress stops at its next safe point and the
    // process exits with the signal's code; the same command continues from there.
    // A second signal finds no listener and ends the process at once (the weeks booked are kept).
    const interrupt = (signal: 'SIGINT' | 'SIGTERM') => {
      process.removeListener('SIGINT', interrupt);
      process.removeListener('SIGTERM', interrupt);
      bar.done();
      io.stderr(`  ${signal}: stopping at the next safe point (again to stop at once; the weeks booked are kept)\n`);
      stop.abort(new InterruptedError(signal));
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    let run;
    try {
      run = await driveBacktest(app, name, weeks, {
        settings: {
          offline: options.offline === true,
          allow_offline_seats: options.allowOfflineSeats === true,
          ...(options.budgetUsd !== undefined ? { budget_usd: options.budgetUsd } : {}),
        },
        workers,
        inProcess: options.inProcess === true,
        // Written at once, so that a first week that takes minutes (LLM seats) is not a silent one.
        onStart: (row) => progressFile?.update({ weeks_done: row.weeksDone, weeks_total: weeks.length, weeks_decided: row.weeksDone }),
        onProgress: (p) => {
          bar.update(p);
          progressFile?.update(p);
        },
        log: (line) => {
          bar.done();
          io.stderr(`  ${line}\n`);
        },
        signal: stop.signal,
      });
    } finally {
      process.removeListener('SIGINT', interrupt);
      process.removeListener('SIGTERM', interrupt);
      bar.done();
      progressFile?.remove();
    }
    if (run.resumed > 0) io.stderr(`  (continued: ${count(run.resumed, 'week')} had finished in an earlier run)\n`);
    const report = await buildBacktestReport(app, run);
    const files = await writeBacktestFiles(app, run, report);
    io.stdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderBacktestReport(report)}\n`);
    io.stderr(`done in ${((performance.now() - started) / 1000).toFixed(1)}s; report in ${files.dir}\n`);
  });
}

export async function showBacktest(io: CliIo, name: string, options: CommonOptions): Promise<void> {
  const prepared = await prepare(io, undefined, options);
  const [{ eq }, { backtests }, { renderBacktestReport }, { continueCommand }] = await Promise.all([
    import('drizzle-orm'),
    import('../storage/schema.js'),
    import('./backtest-summary.js'),
    import('../backtest/backtest.js'),
  ]);
  await withApp(io, prepared, 'backtest show', { ...options, offline: true }, async (app) => {
    const [row] = await app.store.db.select().from(backtests).where(eq(backtests.name, name));
    if (!row) throw new UsageError(`no backtest named ${name} (see \`llm-trading backtests\`)`);
    if (!row.report)
      throw new UsageError(
        `backtest ${name} has no report yet: ${row.weeksDone} of ${row.weeksTotal} weeks done; run \`${continueCommand(row)}\` to continue it`,
      );
    const report = row.report as Parameters<typeof renderBacktestReport>[0];
    io.stdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderBacktestReport(report)}\n`);
  });
}

export async function listBacktests(io: CliIo, options: CommonOptions): Promise<void> {
  const prepared = await prepare(io, undefined, options);
  const [{ asc }, { backtests }, { isDriven }] = await Promise.all([
    import('drizzle-orm'),
    import('../storage/schema.js'),
    import('../backtest/drive.js'),
  ]);
  // The embedded database held by a running backtest: say how far it has got before waiting for it.
  if (!prepared.env.databaseUrl) {
    const [{ embeddedLockPath }, { liveHomeLockHolder }] = await Promise.all([
      import('../storage/db.js'),
      import('../storage/home-lock.js'),
    ]);
    const holder = liveHomeLockHolder(embeddedLockPath(prepared.env.home));
    if (holder)
      for (const progress of progressFilesOf(prepared.env.home, holder.pid))
        io.stderr(`llm-trading backtests: ${describeLiveProgress(progress)}\n`);
  }
  await withApp(io, prepared, 'backtests', { ...options, offline: true }, async (app) => {
    const rows = await app.store.db.select().from(backtests).orderBy(asc(backtests.createdAt));
    // 'running' with no process driving it (no `backtest` command holds it): interrupted, resumable.
    const driven = new Map<string, boolean>();
    for (const r of rows) if (r.status === 'running') driven.set(r.name, await isDriven(app, r.name));
    const list = rows.map((r) => ({
      name: r.name,
      portfolio: r.portfolio,
      from_week: r.fromWeek,
      to_week: r.toWeek,
      mode: r.mode,
      status: r.status === 'running' && !driven.get(r.name) ? 'interrupted' : r.status,
      error: r.error,
      weeks_done: r.weeksDone,
      weeks_total: r.weeksTotal,
      verdict: (r.report as { verdict?: { sentence?: string } } | null)?.verdict?.sentence ?? null,
    }));
    if (options.json) return io.stdout(`${JSON.stringify(list, null, 2)}\n`);
    if (list.length === 0) return io.stdout('no backtests yet: try `llm-trading backtest --from 2024-01-03 --to 2024-03-27 --offline`\n');
    io.stdout(`${pad('name', 34)}${pad('weeks', 14)}${pad('range', 24)}${pad('status', 13)}verdict\n`);
    for (const b of list)
      io.stdout(
        `${pad(b.name, 34)}${pad(`${b.weeks_done}/${b.weeks_total}`, 14)}${pad(`${b.from_week}..${b.to_week}`, 24)}${pad(b.status, 13)}${b.verdict ?? (b.error ? `stopped: ${b.error}` : '-')}\n`,
      );
  });
}
