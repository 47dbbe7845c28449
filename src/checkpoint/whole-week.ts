/**
 * A whole trading week in one go (`llm-trading week`, `npm start`): the Wednesday pipeline, then every
 * checkpoint of every trading day through the week's last session (as far as the market data goes),
 * then the postmortem. Each part resumes where it stopped, so re-running the command after a crash,
 * or after the data has grown, continues the week.
 */
import type { App } from '../app.js';
import type { ProgressListener } from '../council/progress.js';
import { STAGES } from '../council/stage.js';
import type { WeekInfo } from '../council/week.js';
import { runWeek, type WeeklyRunOutcome } from '../council/weekly.js';
import { runPostmortem, type Postmortem } from '../metrics/postmortem.js';
import { runCheckpoints, type CheckpointOptions, type CheckpointResult } from './engine.js';
import { weekSlots } from './schedule.js';

export interface WholeWeek {
  weekly: WeeklyRunOutcome;
  checkpoints: CheckpointResult[];
  /** Slots the data has not reached yet (the week continues when it has). */
  waiting_for_data: { date: string; time: string }[];
  postmortem: Postmortem | null;
}

export async function runWholeWeek(
  app: App,
  week: WeekInfo,
  options: CheckpointOptions,
  listener: ProgressListener,
  onCheckpoint: (result: CheckpointResult) => void = () => undefined,
): Promise<WholeWeek> {
  // No held_to_week_end: the postmortem below measures the week, checkpoints included.
  const weekly = await runWeek(app, week, [...STAGES], { force: options.force, heldToWeekEnd: false }, listener);
  if (weekly.result.status === 'pending_open') {
    // Decided; the orders wait for the open, and every checkpoint for the data after it.
    const waiting = weekSlots(week, app.config).map((s) => ({ date: s.date, time: s.time }));
    return { weekly, checkpoints: [], waiting_for_data: waiting, postmortem: null };
  }
  if (weekly.error || weekly.result.status !== 'completed') return { weekly, checkpoints: [], waiting_for_data: [], postmortem: null };
  const { last } = await app.marketData.coverage(app.config.tickers);
  const slots = weekSlots(week, app.config);
  const waiting = slots.filter((s) => s.date > last).map((s) => ({ date: s.date, time: s.time }));
  const checkpoints = await runCheckpoints(
    app,
    week,
    slots.filter((s) => s.date <= last),
    options,
    onCheckpoint,
  );
  return { weekly, checkpoints, waiting_for_data: waiting, postmortem: await runPostmortem(app, week) };
}
