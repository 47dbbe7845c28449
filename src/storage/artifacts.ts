import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Human-readable copies of each stage's data under <home>/runs/<week_id>/: normalized/<stage>.json
 * (the validated output) and raw/<stage>/<name>.txt (what each agent returned, verbatim).
 * Written after the database commit, from the same data; files are replaced atomically.
 */
export class Artifacts {
  constructor(private readonly home: string) {}

  dirOf(weekId: string): string {
    return join(this.home, 'runs', weekId);
  }

  writeStage(weekId: string, stage: string, normalized: unknown, raw: readonly { name: string; text: string }[]): void {
    const dir = this.dirOf(weekId);
    writeAtomic(join(dir, 'normalized', `${stage}.json`), `${JSON.stringify(normalized, null, 2)}\n`);
    for (const item of raw) writeAtomic(join(dir, 'raw', stage, `${safeName(item.name)}.txt`), item.text);
  }

  /** One raw record of a stage, e.g. an LLM call: raw/<stage>/<name>.json (name may contain one folder). */
  writeRaw(weekId: string, stage: string, name: string, text: string): void {
    const parts = name.split('/').map(safeName);
    writeAtomic(join(this.dirOf(weekId), 'raw', stage, ...parts.slice(0, -1), `${parts.at(-1)}.json`), text);
  }
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}
