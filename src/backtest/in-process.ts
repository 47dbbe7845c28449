/**
 * A backtest in this process (the embedded database, or PostgreSQL without the job queue): the books
 * replay week after week while the decision stages of the weeks ahead run `concurrency` at a time.
 *
 * With LLM seats the decisions are network-bound, so weeks deciding in parallel shorten the wall time
 * toward the books' own critical path. Offline agents are CPU-bound in this one thread: concurrency 1
 * (decisions and books alternate) is as fast.
 */
import type { App } from '../app.js';
import type { WeekInfo } from '../council/week.js';
import { describeError } from '../errors.js';
import { bookWeek, decideWeek, failBacktest, type BacktestRow } from './backtest.js';
import { createHeapPulse } from './heap-pulse.js';

export interface InProcessOptions {
  /** Weeks deciding at once, ahead of the books (at least 1). */
  concurrency: number;
  /**
   * Told after each week booked (awaited: the next week starts after it), with how many weeks of the
   * range are booked and how many have their decisions stored (counted here, not read back).
   */
  onWeek?: (progress: { weeksDone: number; weeksDecided: number }) => Promise<void> | void;
  signal?: AbortSignal;
}

export async function runBacktestInProcess(
  app: App,
  row: BacktestRow,
  weeks: readonly WeekInfo[],
  options: InProcessOptions,
): Promise<void> {
  const start = row.weeksDone;
  const heap = createHeapPulse();
  const decisions = decisionsAhead(weeks, start, Math.max(1, options.concurrency), (week) => decideWeek(app, week), options.signal);
  try {
    for (let i = start; i < weeks.length; i++) {
      options.signal?.throwIfAborted();
      await decisions.of(i);
      await bookWeek(app, row.name, i, weeks[i] as WeekInfo);
      heap.afterWeek();
      await options.onWeek?.({ weeksDone: i + 1, weeksDecided: Math.max(i + 1, start + decisions.decided()) });
    }
  } catch (error) {
    if (!options.signal?.aborted) await failBacktest(app.store.db, row.name, describeError(error)).catch(() => undefined);
    throw error;
  } finally {
    // Nothing may still be writing when the caller closes the database.
    await decisions.settled();
  }
}

/**
 * Starts `decide` for the weeks from `start` on, in order, `concurrency` at a time, until the range
 * ends or a decision fails (or the signal aborts). `of(i)` is week i's decision: by the time the books
 * ask for week i every earlier decision has settled, so week i has started.
 */
function decisionsAhead(
  weeks: readonly WeekInfo[],
  start: number,
  concurrency: number,
  decide: (week: WeekInfo) => Promise<void>,
  signal: AbortSignal | undefined,
): { of(i: number): Promise<void>; settled(): Promise<void>; decided(): number } {
  const started = new Map<number, Promise<void>>();
  let next = start;
  let running = 0;
  let decided = 0;
  let stopped = false;
  const pump = () => {
    while (!stopped && !signal?.aborted && running < concurrency && next < weeks.length) {
      const week = weeks[next] as WeekInfo;
      running++;
      const decision = decide(week)
        .then(() => {
          decided++; // as the store counts them: weeks whose decisions completed, in any order
        })
        .finally(() => {
          running--;
          pump();
        });
      // A failure is reported by of(i) when the books reach that week; it stops further decisions now.
      decision.catch(() => {
        stopped = true;
      });
      started.set(next++, decision);
    }
  };
  pump();
  return {
    of: (i) => started.get(i) ?? Promise.reject(new Error(`the decisions of week ${weeks[i]?.week_id} were not started`)),
    decided: () => decided,
    settled: async () => {
      stopped = true;
      await Promise.allSettled(started.values());
    },
  };
}
