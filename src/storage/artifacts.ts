import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Human-readable copies of each stage's data under <home>/runs/<portfolio>/<week_id>/:
 * normalized/<stage>.json (the validated output) and raw/<stage>/<name>.txt (what each agent
 * returned, verbatim). The pipeline writes a stage's files inside the database transaction that
 * commits the stage (a failed write rolls the stage back) and rewrites missing ones on resume, so the
 * files follow the database. Each file is replaced atomically (a temporary file, then a rename).
 * Writes are synchronous behind a promise-returning API: a file here is a few KB, written in tens of
 * microseconds, while fs/promises paid a FileHandle, four trips to the thread pool and their promises
 * for each one — measured on a backtest (about 55 files a week), several times the cost of the writes
 * themselves, and more CPU than the overlap it bought. Errors still arrive as rejections.
 */
export class Artifacts {
  constructor(
    private readonly home: string,
    private readonly portfolio: string,
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

  async writeStage(weekId: string, stage: string, normalized: unknown, raw: readonly { name: string; text: string }[]): Promise<void> {
    await Promise.all(raw.map((item) => writeAtomic(join(this.dirOf(weekId), 'raw', stage, `${safeName(item.name)}.txt`), item.text)));
    // The normalized file last: its presence says the stage's files are complete.
    await writeAtomic(this.normalizedPath(weekId, stage), `${JSON.stringify(normalized, null, 2)}\n`);
  }

  /** A human-readable report at the top of the week's folder, e.g. postmortem.md. */
  writeReport(weekId: string, name: string, text: string): Promise<void> {
    return writeAtomic(join(this.dirOf(weekId), safeName(name)), text);
  }

  /** One raw record of a stage, e.g. an LLM call: raw/<stage>/<name>.json (name may contain one folder). */
  writeRaw(weekId: string, stage: string, name: string, text: string): Promise<void> {
    const parts = name.split('/').map(safeName);
    return writeAtomic(join(this.dirOf(weekId), 'raw', stage, ...parts.slice(0, -1), `${parts.at(-1)}.json`), text);
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

/** Unique per write: two writes of one file at once (a stage's files and a rewrite on resume) never share a temporary file. */
let serial = 0;

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${++serial}.tmp`;
  try {
    writeTemporary(tmp, text);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * Writes the temporary file, making its folder only when it is missing: a week writes dozens of files
 * into a few folders, and a mkdir per file was most of the cost of writing them.
 */
function writeTemporary(tmp: string, text: string): void {
  try {
    writeFileSync(tmp, text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(tmp), { recursive: true });
    writeFileSync(tmp, text);
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
