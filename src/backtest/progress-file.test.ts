import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeLiveProgress, progressFilePath, progressFilesOf, progressFileWriter } from './progress-file.js';

const progress = (weeks_done: number) => ({ weeks_done, weeks_total: 10, weeks_decided: weeks_done + 1, llm_calls: 0, llm_cost_usd: 0 });

describe('a backtest progress file', () => {
  const homes: string[] = [];
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), 'lt-progress-'));
    homes.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is written for this process, at most once per interval, leaves no temporary file, and is removed at the end', () => {
    const h = home();
    const path = progressFilePath(h, 'bt-a');
    const writer = progressFileWriter(path, { name: 'a', portfolio: 'bt-a' }, 60_000);
    writer.update(progress(1));
    writer.update(progress(2)); // within the interval: not written
    const [file] = progressFilesOf(h, process.pid);
    expect(file).toMatchObject({ name: 'a', portfolio: 'bt-a', pid: process.pid, weeks_done: 1, weeks_total: 10, weeks_decided: 2 });
    expect(readdirSync(dirname(path))).toEqual(['progress.json']);
    expect(describeLiveProgress(file!, Date.parse(file!.updated_at) + 4_000)).toBe(
      `backtest a (process ${process.pid}) is running: 1/10 weeks booked, 2 decided, as of 4 s ago`,
    );
    writer.remove();
    expect(existsSync(path)).toBe(false);
    expect(progressFilesOf(h, process.pid)).toEqual([]);
  });

  it('reads only the files of the given process, and skips damaged ones', () => {
    const h = home();
    progressFileWriter(progressFilePath(h, 'bt-b'), { name: 'b', portfolio: 'bt-b' }).update(progress(3));
    progressFileWriter(progressFilePath(h, 'bt-a'), { name: 'a', portfolio: 'bt-a' }).update(progress(5));
    const damaged = progressFilePath(h, 'bt-c');
    mkdirSync(dirname(damaged), { recursive: true });
    writeFileSync(damaged, '{"name": "c", "pid": ');
    mkdirSync(join(h, 'runs', 'default', '2024-01-03'), { recursive: true }); // a portfolio with no backtest
    expect(progressFilesOf(h, process.pid).map((p) => [p.name, p.weeks_done])).toEqual([
      ['a', 5],
      ['b', 3],
    ]);
    expect(progressFilesOf(h, process.pid + 1)).toEqual([]);
    expect(progressFilesOf(join(h, 'nowhere'), process.pid)).toEqual([]);
  });
});
