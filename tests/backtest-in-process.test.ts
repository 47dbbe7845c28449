/**
 * A backtest in one process (issue P5): weeks deciding ahead of the books; interrupted (Ctrl-C) it is
 * listed as interrupted and continues where it stopped to the books of an uninterrupted run; a week
 * whose decision fails stops the backtest as failed, with the error, resumable once the cause is gone.
 * And the progress bar's two faces: a redrawn line on a terminal, plain lines elsewhere.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { backtestProgress, backtestRow, weeksBetween, type BacktestProgress } from '../src/backtest/backtest.js';
import { driveBacktest, isDriven } from '../src/backtest/drive.js';
import { backtestProgressBar } from '../src/cli/backtest-progress.js';
import { loadConfig } from '../src/config/app-config.js';
import { openStore, type Store } from '../src/storage/db.js';
import { resetStore, testApp } from './helpers/app.js';
import { booksOf } from './helpers/processes.js';

const WEEKS = weeksBetween(loadConfig(), '2024-01-03', '2024-01-31');
const settings = { offline: true, allow_offline_seats: false };

describe('a backtest in one process', () => {
  let store: Store;
  const apps: (App & { cleanup(): Promise<void> })[] = [];
  const appFor = async (name: string) => {
    const app = await testApp(store, {}, { portfolio: `bt-${name}`, portfolioKind: 'backtest' });
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    store = await openStore({ memory: true });
    await resetStore(store);
  });
  afterAll(async () => {
    for (const a of apps) await a.cleanup();
    await store.close();
  });

  it('interrupted after two weeks, it is listed as interrupted and continues to the books of an uninterrupted run', async () => {
    const straight = await appFor('straight');
    const shown: BacktestProgress[] = [];
    const reference = await driveBacktest(straight, 'straight', WEEKS, { settings, workers: 3, onProgress: (p) => shown.push(p) });
    expect(reference.postmortems).toHaveLength(5);
    // The progress the process counts itself: every week once, decided never behind booked nor past
    // the range, never going back; at the end what the store says.
    expect(shown.map((p) => p.weeks_done)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, p] of shown.entries()) {
      expect(p.weeks_decided).toBeGreaterThanOrEqual(p.weeks_done);
      expect(p.weeks_decided).toBeLessThanOrEqual(WEEKS.length);
      expect(p.weeks_decided).toBeGreaterThanOrEqual(shown[i - 1]?.weeks_decided ?? 0);
    }
    const stored = await backtestRow(store.db, 'straight');
    expect(shown.at(-1)).toEqual(await backtestProgress(store.db, stored!));

    const app = await appFor('cut');
    const stop = new AbortController();
    const seen: number[] = [];
    await expect(
      driveBacktest(app, 'cut', WEEKS, {
        settings,
        workers: 3,
        signal: stop.signal,
        onProgress: (p) => {
          seen.push(p.weeks_done);
          if (p.weeks_done === 2) stop.abort(new Error('Ctrl-C'));
        },
      }),
    ).rejects.toThrow('Ctrl-C');
    const row = await backtestRow(store.db, 'cut');
    expect(row).toMatchObject({ status: 'running', weeksDone: 2, error: null });
    // Nobody drives it now: `backtests` shows it as interrupted.
    expect(await isDriven(app, 'cut')).toBe(false);

    const resumed = await driveBacktest(app, 'cut', WEEKS, { settings, workers: 1, onProgress: (p) => seen.push(p.weeks_done) });
    expect(resumed.resumed).toBe(2);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(resumed.postmortems.map((p) => p.accounts.map((a) => a.end_equity))).toEqual(
      reference.postmortems.map((p) => p.accounts.map((a) => a.end_equity)),
    );
    const books = (b: Awaited<ReturnType<typeof booksOf>>) => b.orders.map((o) => ({ ...o }));
    expect(books(await booksOf(store.db, 'bt-cut'))).toEqual(books(await booksOf(store.db, 'bt-straight')));
  });

  it('a week counts as booked only once its files are on disk (they are written behind, on the writer thread)', async () => {
    const app = await appFor('files');
    const missing: string[] = [];
    const counted: number[] = [];
    await driveBacktest(app, 'files', WEEKS, {
      settings,
      workers: 1,
      onProgress: (p) => {
        counted.push(p.weeks_done);
        for (const week of WEEKS.slice(0, p.weeks_done))
          for (const file of ['postmortem.md', 'normalized/postmortem.json', 'normalized/snapshot.json', 'normalized/execute.json']) {
            const path = join(app.artifacts.dirOf(week.week_id), file);
            if (!existsSync(path)) missing.push(`${p.weeks_done}: ${week.week_id}/${file}`);
          }
      },
    });
    expect(counted).toEqual([1, 2, 3, 4, 5]);
    expect(missing).toEqual([]);
  });

  it('a week whose decision fails stops the backtest as failed, with the error; fixed, the same call continues', async () => {
    const app = await appFor('fails');
    const chairman = app.agents.chairman;
    const failing = WEEKS[2]!.week_id;
    let broken = true;
    app.agents.chairman = {
      checkpoint: (...args) => chairman.checkpoint(...args),
      decide: async (ctx, ...rest) => {
        if (broken && ctx.week_id === failing) throw new Error('the chairman is down');
        return chairman.decide(ctx, ...rest);
      },
    };
    await expect(driveBacktest(app, 'fails', WEEKS, { settings, workers: 2 })).rejects.toThrow();
    const row = await backtestRow(store.db, 'fails');
    expect(row?.status).toBe('failed');
    expect(row?.weeksDone).toBe(2);
    expect(row?.error).toMatch(/chairman/);
    broken = false;
    const run = await driveBacktest(app, 'fails', WEEKS, { settings, workers: 2 });
    expect(run.postmortems).toHaveLength(5);
    expect(await backtestRow(store.db, 'fails')).toMatchObject({ status: 'running', weeksDone: 5, error: null });
  });
});

describe('the progress bar', () => {
  const progress = (done: number, extra: Partial<Parameters<ReturnType<typeof backtestProgressBar>['update']>[0]> = {}) => ({
    weeks_done: done,
    weeks_total: 200,
    weeks_decided: done,
    llm_calls: 0,
    llm_cost_usd: 0,
    ...extra,
  });

  it('redraws one line on a terminal, with the rate, the ETA and (LLM seats) calls and cost', () => {
    let out = '';
    let t = 0;
    const bar = backtestProgressBar(
      (s) => (out += s),
      true,
      true,
      () => t,
    );
    bar.update(progress(0));
    t = 10_000;
    bar.update(progress(50, { weeks_decided: 60, llm_calls: 1234, llm_cost_usd: 5.678 }));
    bar.done();
    const frames = out.split('\r\x1b[2K');
    expect(frames[2]).toBe('  [######..................] 50/200 weeks (60 decided) · 5.0 weeks/s · ETA 30s · 1234 calls $5.68\n');
  });

  it('prints plain lines elsewhere: about every 2% of a long backtest, the last one always', () => {
    const lines: string[] = [];
    let t = 0;
    const bar = backtestProgressBar(
      (s) => lines.push(s),
      false,
      false,
      () => t,
    );
    bar.update(progress(0));
    for (let done = 1; done <= 200; done++) {
      t += 100;
      bar.update(progress(done));
    }
    bar.done();
    expect(lines.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    expect(lines.length).toBeGreaterThan(40);
    expect(lines.length).toBeLessThanOrEqual(102);
    expect(lines.at(-1)).toBe('  200/200 weeks · 10.0 weeks/s · ETA 0s\n');
  });
});
