import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createFileWriter, type FileText, type FileWriter } from './file-writer.js';

/**
 * Human-readable copies of each stage's data under <home>/runs/<portfolio>/<week_id>/:
 * normalized/<stage>.json (the validated output) and raw/<stage>/<name>.txt (what each agent
 * returned, verbatim). The pipeline writes a stage's files inside the database transaction that
 * commits the stage (a failed write rolls the stage back) and rewrites missing ones on resume, so the
 * files follow the database. Each file is replaced atomically (a temporary file, then a rename).
 * The writer (storage/file-writer.ts) writes them in this thread (the weekly commands) or behind, on
 * a thread of its own (backtests: flush() before a week counts). fs/promises was not used: it paid a
 * FileHandle, four trips to the thread pool and their promises for each file of a few KB — measured
 * on a backtest, more CPU than the writes themselves.
 */
export class Artifacts {
  constructor(
    private readonly home: string,
    private readonly portfolio: string,
    private readonly writer: FileWriter = createFileWriter('direct'),
  ) {}

  dirOf(weekId: string): string {
    return join(this.home, 'runs', this.portfolio, weekId);
  }

  normalizedPath(weekId: string, stage: string): string {
    return join(this.dirOf(weekId), 'normalized', `${stage}.json`);
  }

  hasStage(weekId: string, stage: string): boolean {
    return existsSync(this.normalizedPath(weekId, stage));
  }

  writeStage(weekId: string, stage: string, normalized: unknown, raw: readonly { name: string; text: string }[]): Promise<void> {
    const files: FileText[] = raw.map((item) => ({
      path: join(this.dirOf(weekId), 'raw', stage, `${safeName(item.name)}.txt`),
      text: item.text,
    }));
    // The normalized file last: its presence says the stage's files are complete.
    files.push({ path: this.normalizedPath(weekId, stage), text: `${JSON.stringify(normalized, null, 2)}\n` });
    return this.writer.write(files);
  }

  /** A human-readable report at the top of the week's folder, e.g. postmortem.md. */
  writeReport(weekId: string, name: string, text: string): Promise<void> {
    return this.writer.write([{ path: join(this.dirOf(weekId), safeName(name)), text }]);
  }

  /** One raw record of a stage, e.g. an LLM call: raw/<stage>/<name>.json (name may contain one folder). */
  writeRaw(weekId: string, stage: string, name: string, text: string): Promise<void> {
    const parts = name.split('/').map(safeName);
    return this.writer.write([{ path: join(this.dirOf(weekId), 'raw', stage, ...parts.slice(0, -1), `${parts.at(-1)}.json`), text }]);
  }

  /** Resolves when every file written so far is on disk (see FileWriter.flush). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  /**
   * Removes temporary files a killed process left in the week's folder (`<file>.<pid>.<n>.tmp` of a pid
   * that is not running). Returns how many were removed.
   */
  sweepTemporaryFiles(weekId: string): number {
    const dir = this.dirOf(weekId);
    if (!existsSync(dir)) return 0;
    let removed = 0;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const m = /\.(\d+)(?:\.\d+)?\.tmp$/.exec(entry.name);
      if (!entry.isFile() || !m || isRunning(Number(m[1]))) continue;
      rmSync(join(entry.parentPath, entry.name), { force: true });
      removed++;
    }
    return removed;
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}
