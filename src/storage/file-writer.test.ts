import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileWriter, type FileWriter } from './file-writer.js';

const dirs: string[] = [];
const writers: FileWriter[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-file-writer-'));
  dirs.push(dir);
  return dir;
}

function writer(mode: 'direct' | 'behind', maxBacklogBytes?: number): FileWriter {
  const w = createFileWriter(mode, maxBacklogBytes === undefined ? {} : { maxBacklogBytes });
  writers.push(w);
  return w;
}

/** Every file under dir, relative path → text. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out[join(e.parentPath, e.name).slice(dir.length + 1)] = readFileSync(join(e.parentPath, e.name), 'utf8');
  return out;
}

describe.each(['direct', 'behind'] as const)('the %s file writer', (mode) => {
  it('writes every file, making folders, replacing what was there, leaving no temporary file once flushed', async () => {
    const dir = scratch();
    const w = writer(mode);
    writeFileSync(join(dir, 'old.json'), 'before');
    const expected: Record<string, string> = { 'old.json': 'after' };
    await w.write([{ path: join(dir, 'old.json'), text: 'after' }]);
    for (let week = 0; week < 20; week++) {
      const files = Array.from({ length: 5 }, (_, i) => ({
        path: join(dir, `w${week}`, 'raw', `f${i}.txt`),
        text: `week ${week} file ${i}`,
      }));
      files.push({ path: join(dir, `w${week}`, 'normalized.json'), text: `{"week":${week}}` });
      for (const f of files) expected[f.path.slice(dir.length + 1)] = f.text;
      await w.write(files);
    }
    await w.flush();
    expect(tree(dir)).toEqual(expected);
  });

  it('reports a file it cannot write, naming it, and leaves no temporary file', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'blocker'), 'a file where a folder should be');
    const w = writer(mode);
    const bad = join(dir, 'blocker', 'sub', 'x.json');
    const attempt = (async () => {
      await w.write([{ path: bad, text: 'x' }]);
      await w.flush();
    })();
    await expect(attempt).rejects.toThrow(mode === 'behind' ? /cannot write .*blocker\/sub\/x\.json: ENOTDIR/ : /ENOTDIR/);
    expect(existsSync(join(dir, 'blocker'))).toBe(true);
    expect(readdirSync(dir)).toEqual(['blocker']); // no temporary file left behind
  });
});

describe('the behind file writer', () => {
  it('a failed write is reported by every later write and flush, so it cannot be missed', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'blocker'), '');
    const w = writer('behind');
    await w.write([{ path: join(dir, 'blocker', 'x'), text: 'x' }]); // queued: no error yet
    await expect(w.flush()).rejects.toThrow(/ENOTDIR/);
    await expect(w.write([{ path: join(dir, 'ok'), text: 'ok' }])).rejects.toThrow(/ENOTDIR/);
    await expect(w.close()).rejects.toThrow(/ENOTDIR/);
  });

  it('holds a write back while more than the backlog is queued, and writes in order', async () => {
    const dir = scratch();
    const w = writer('behind', 1000);
    const path = join(dir, 'same.txt');
    for (let i = 0; i < 50; i++) await w.write([{ path, text: `${i}`.padStart(600, '.') }]);
    await w.flush();
    expect(readFileSync(path, 'utf8')).toBe('49'.padStart(600, '.')); // the last write wins: order kept
    expect(readdirSync(dir)).toEqual(['same.txt']);
  });

  it('close() writes what is queued, and the writer starts no thread until the first write', async () => {
    const dir = scratch();
    const idle = writer('behind');
    await idle.close(); // nothing to wait for, nothing to stop
    const w = writer('behind');
    for (let i = 0; i < 100; i++) await w.write([{ path: join(dir, `f${i}`), text: `${i}` }]);
    await w.close();
    expect(readdirSync(dir)).toHaveLength(100);
    expect(readFileSync(join(dir, 'f99'), 'utf8')).toBe('99');
  });
});
