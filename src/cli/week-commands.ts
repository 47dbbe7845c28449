/**
 * `checkpoint` and `week`: the trading week after the Wednesday decision (src/checkpoint/).
 */
import type { App } from '../app.js';
import type { CheckpointSlot } from '../checkpoint/schedule.js';
import { shiftToWeekday, weekOf, type WeekInfo } from '../council/week.js';
import { addDays, isTradingDay, minutesOf } from '../market/calendar.js';
import { UsageError, type CliIo, type CommonOptions } from './io.js';
import { chosenWeek, prepare, preparedWeek, withApp, type WeekCommandOptions } from './commands.js';
import { progressPrinter } from './progress-printer.js';

export interface CheckpointCommandOptions extends CommonOptions {
  time?: string;
  date?: string;
  all?: boolean;
  force?: boolean;
  offline?: boolean;
  allowOfflineSeats?: boolean;
  cache?: boolean;
}

/** The week a session date belongs to: the decision weekday on or before it. */
function weekOfDate(app: App, date: string): WeekInfo {
  if (!isTradingDay(date)) throw new UsageError(`${date} is not an NYSE trading day: no checkpoints`);
  let weekId = shiftToWeekday(date, app.config.schedule.weekly.day, -1);
  // A holiday on the decision day moves the fill day later: the date may still be in the week before.
  if (weekOf(weekId, app.config).fill_date > date) weekId = addDays(weekId, -7);
  return weekOf(weekId, app.config);
}

/** The slots a checkpoint command runs: --date with --time or --all, or the next slot not run yet. */
async function chosenSlots(app: App, options: CheckpointCommandOptions): Promise<{ week: WeekInfo; slots: CheckpointSlot[] }> {
  const [{ weekSlots }, { and, eq, desc }, { checkpointRuns, stageRuns }] = await Promise.all([
    import('../checkpoint/schedule.js'),
    import('drizzle-orm'),
    import('../storage/schema.js'),
  ]);
  const times = app.config.schedule.checkpoints;
  if (options.time !== undefined && !times.includes(options.time))
    throw new UsageError(`${options.time} is not a checkpoint time; config/schedule.yaml has ${times.join(', ')}`);
  if (options.date !== undefined) {
    const week = weekOfDate(app, options.date);
    const slots = weekSlots(week, app.config).filter((s) => s.date === options.date && (options.all || s.time === options.time));
    return { week, slots };
  }
  // The next slot the portfolio has not run: in its latest executed week.
  const [latest] = await app.store.db
    .select({ weekId: stageRuns.weekId })
    .from(stageRuns)
    .where(and(eq(stageRuns.portfolio, app.portfolio), eq(stageRuns.stage, 'execute'), eq(stageRuns.status, 'completed')))
    .orderBy(desc(stageRuns.weekId))
    .limit(1);
  if (!latest) throw new UsageError(`portfolio ${app.portfolio} has no executed week yet: run \`llm-trading run_weekly\` first`);
  const week = weekOf(latest.weekId, app.config);
  // The next slot is after the latest one the portfolio ran (or recorded as skipped): time only
  // moves forward, so a slot passed over earlier cannot run any more.
  const [latestRan] = await app.store.db
    .select({ at: checkpointRuns.checkpointAt })
    .from(checkpointRuns)
    .where(and(eq(checkpointRuns.portfolio, app.portfolio), eq(checkpointRuns.weekId, week.week_id)))
    .orderBy(desc(checkpointRuns.checkpointAt))
    .limit(1);
  const after = latestRan?.at.getTime() ?? -Infinity;
  const open = weekSlots(week, app.config).filter((s) => s.at.getTime() > after && (options.time === undefined || s.time === options.time));
  const first = open[0];
  if (!first)
    throw new UsageError(
      `every checkpoint of the week of ${week.week_id} has run in portfolio ${app.portfolio}; the next week starts with \`llm-trading run_weekly --week ${addDays(week.week_id, 7)}\``,
    );
  return { week, slots: options.all ? open.filter((s) => s.date === first.date) : [first] };
}

export async function checkpoint(io: CliIo, options: CheckpointCommandOptions): Promise<void> {
  if (options.all && options.time !== undefined) throw new UsageError('give either --time HH:MM or --all, not both');
  if (options.date !== undefined && !options.all && options.time === undefined)
    throw new UsageError('with --date, give --time HH:MM or --all');
  if (options.time !== undefined) minutesOf(options.time);
  const prepared = await prepare(io, undefined, options);
  const [{ runCheckpoints }, { renderCheckpoint }] = await Promise.all([
    import('../checkpoint/engine.js'),
    import('./checkpoint-summary.js'),
  ]);
  const appOptions = {
    ...options,
    offline: options.offline === true,
    allowOfflineSeats: options.allowOfflineSeats === true,
    noCache: options.cache === false,
  };
  await withApp(io, prepared, 'checkpoint', appOptions, async (app) => {
    const { week, slots } = await chosenSlots(app, options);
    const { last } = await app.marketData.coverage(app.config.tickers);
    const beyond = slots.find((s) => s.date > last);
    if (beyond) throw new UsageError(`no market data for ${beyond.date} yet (the data ends ${last}): the checkpoint runs once it is there`);
    const results = await runCheckpoints(app, week, slots, { force: options.force === true }, (result) => {
      if (!options.json) io.stdout(`${renderCheckpoint(result)}\n`);
    });
    if (options.json) io.stdout(`${JSON.stringify(options.all ? results : results[0], null, 2)}\n`);
  });
}

export async function week(
  io: CliIo,
  options: WeekCommandOptions,
  view: { portfolio?: string; kind?: 'demo' | 'live'; command?: string } = {},
): Promise<void> {
  const command = view.command ?? 'week';
  const asked = chosenWeek(options);
  const prepared = await prepare(io, asked, options);
  const weekInfo = await preparedWeek(prepared, asked);
  const [{ runWholeWeek }, { renderSummary }, { renderPostmortem }, { renderCheckpoint, renderConvictionPaths }] = await Promise.all([
    import('../checkpoint/whole-week.js'),
    import('./summary.js'),
    import('./postmortem-summary.js'),
    import('./checkpoint-summary.js'),
  ]);
  const appOptions = {
    ...options,
    offline: options.offline === true,
    allowOfflineSeats: options.allowOfflineSeats === true,
    noCache: options.cache === false,
    ...((view.portfolio ?? options.portfolio) ? { portfolio: view.portfolio ?? options.portfolio } : {}),
    ...(view.kind ? { portfolioKind: view.kind } : {}),
  };
  await withApp(io, prepared, command, appOptions, async (app) => {
    io.stderr(
      `llm-trading ${command}: week ${weekInfo.week_id}, portfolio ${app.portfolio} (${app.store.location}, ${app.agents.mode} agents)\n`,
    );
    const started = performance.now();
    const listener = progressPrinter((line) => io.stderr(`${line}\n`));
    const whole = await runWholeWeek(app, weekInfo, {}, listener, (c) => {
      if (c.status === 'completed') {
        const acted = c.updates.filter((u) => u.action !== 'STAY').map((u) => `${u.account_id} ${u.action}`);
        io.stderr(
          `  checkpoint ${c.date} ${c.time}: ${acted.length ? acted.join(', ') : 'all STAY'}${c.already_run ? ' (already run)' : ''}\n`,
        );
      } else io.stderr(`  checkpoint ${c.date} ${c.time}: skipped (${c.reason})\n`);
    });
    const { result, error } = whole.weekly;
    if (options.json) {
      io.stdout(
        `${JSON.stringify({ weekly: error ? { ...result, error: error.message } : result, checkpoints: whole.checkpoints, waiting_for_data: whole.waiting_for_data, postmortem: whole.postmortem }, null, 2)}\n`,
      );
    } else {
      io.stdout(`${renderSummary(result, { preview: false })}\n`);
      const weekly = new Map(
        result.accounts.map((a) => [
          a.account_id,
          {
            owner: a.owner,
            conviction: a.trade?.conviction ?? null,
            trade: a.trade ? `${a.trade.direction} ${a.trade.ticker}` : 'no trade',
          },
        ]),
      );
      if (whole.checkpoints.length > 0) io.stdout(`${renderConvictionPaths(whole.checkpoints, weekly)}\n`);
      if (whole.waiting_for_data.length > 0)
        io.stdout(
          `  waiting for market data: ${whole.waiting_for_data.length} checkpoints from ${whole.waiting_for_data[0]?.date} (re-run the command when the data has grown)\n`,
        );
      if (whole.postmortem) io.stdout(`${renderPostmortem(whole.postmortem, { usage: true })}\n`);
      if (options.verbose) for (const c of whole.checkpoints) io.stdout(`${renderCheckpoint(c)}\n`);
    }
    if (error) throw error;
    io.stderr(`done in ${((performance.now() - started) / 1000).toFixed(1)}s; artifacts in ${app.artifacts.dirOf(weekInfo.week_id)}\n`);
  });
}
