/**
 * A running backtest's progress, as a small file beside its report
 * (`<home>/runs/<portfolio>/backtest/progress.json`), for the embedded database: there one process
 * holds the database for the whole backtest, so `llm-trading backtests` in another terminal could
 * only wait for it. It reads these files first and says how far each running backtest has got.
 *
 * The file is written when the backtest starts, replaced atomically after a week booked (at most once
 * a second) and deleted when the command ends; a file left by a process that was killed is ignored: only the files of the process
 * that holds the database now are read. Writing it is best effort: a backtest never fails because its
 * progress file could not be written (a full disk stops the backtest at its next database or artifact
 * write anyway).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { BacktestProgress } from './backtest.js';

const FILE = 'progress.json';

const ProgressFile = z.object({
  name: z.string(),
  portfolio: z.string(),
  pid: z.number().int(),
  host: z.string(),
  started_at: z.string(),
  updated_at: z.string(),
  weeks_done: z.number().int(),
  weeks_total: z.number().int(),
  weeks_decided: z.number().int(),
});
export type ProgressFile = z.infer<typeof ProgressFile>;

/** Where a backtest's portfolio keeps the file. */
export const progressFilePath = (home: string, portfolio: string) => join(home, 'runs', portfolio, 'backtest', FILE);

/** Writes (and later removes) one backtest's progress file. */
export function progressFileWriter(path: string, backtest: { name: string; portfolio: string }, minIntervalMs = 1000) {
  const startedAt = new Date().toISOString();
  let lastWrite = -Infinity;
  return {
    /** At most once a second: a file replaced after every week of a fast offline backtest would cost a file creation a week. */
    update(progress: Pick<BacktestProgress, 'weeks_done' | 'weeks_total' | 'weeks_decided'>): void {
      const now = performance.now();
      if (now - lastWrite < minIntervalMs) return;
      lastWrite = now;
      const file: ProgressFile = {
        ...backtest,
        pid: process.pid,
        host: hostname(),
        started_at: startedAt,
        updated_at: new Date().toISOString(),
        weeks_done: progress.weeks_done,
        weeks_total: progress.weeks_total,
        weeks_decided: progress.weeks_decided,
      };
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
        renameSync(tmp, path);
      } catch {
        rmSync(tmp, { force: true });
      }
    },
    remove(): void {
      rmSync(path, { force: true });
    },
  };
}

/**
 * The progress files written by process `pid` (the live holder of the embedded database: see
 * liveHomeLockHolder, which also tells a killed process's reused pid from a running one), by name.
 */
export function progressFilesOf(home: string, pid: number): ProgressFile[] {
  const runs = join(home, 'runs');
  if (!existsSync(runs)) return [];
  const live: ProgressFile[] = [];
  for (const portfolio of readdirSync(runs)) {
    const path = progressFilePath(home, portfolio);
    if (!existsSync(path)) continue;
    let parsed;
    try {
      parsed = ProgressFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    } catch {
      continue; // unreadable: being replaced this moment, or damaged; it says nothing reliable
    }
    if (parsed.success && parsed.data.host === hostname() && parsed.data.pid === pid) live.push(parsed.data);
  }
  return live.sort((a, b) => a.name.localeCompare(b.name));
}

/** "backtest a (process 123) is running: 12/17 weeks booked, 13 decided, as of 4 s ago" */
export function describeLiveProgress(p: ProgressFile, now = Date.now()): string {
  const ago = Math.max(0, Math.round((now - Date.parse(p.updated_at)) / 1000));
  return `backtest ${p.name} (process ${p.pid}) is running: ${p.weeks_done}/${p.weeks_total} weeks booked, ${p.weeks_decided} decided, as of ${ago} s ago`;
}
