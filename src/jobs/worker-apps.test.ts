import { describe, expect, it } from 'vitest';
import type { App } from '../app.js';
import { WorkerApps } from './worker-apps.js';

/** A stand-in App: only close() matters here. */
function fakeApps() {
  const opened: string[] = [];
  const closed: string[] = [];
  const apps = new WorkerApps(async (name) => {
    opened.push(name);
    if (name === 'broken') throw new Error('cannot open');
    return { close: async () => void closed.push(name) } as unknown as App;
  });
  return { apps, opened, closed };
}

describe('WorkerApps', () => {
  it("opens a backtest's app once for all its jobs, and closes it when it is retired and its last job has ended", async () => {
    const { apps, opened, closed } = fakeApps();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = apps.with('a', () => held);
    await apps.with('a', async () => undefined);
    expect(opened).toEqual(['a']);
    // Retired while a job still runs: closed only after that job.
    await apps.retire('a');
    expect(closed).toEqual([]);
    release();
    await first;
    expect(closed).toEqual(['a']);
    expect(apps.size).toBe(0);
  });

  it('a job after the retirement opens the app again; a retire of an unknown backtest does nothing', async () => {
    const { apps, opened, closed } = fakeApps();
    await apps.with('a', async () => undefined);
    await apps.retire('a');
    await apps.retire('nothing');
    await apps.with('a', async () => undefined);
    expect(opened).toEqual(['a', 'a']);
    expect(closed).toEqual(['a']);
    expect(apps.size).toBe(1);
  });

  it('a failed open fails the job and is tried again by the next one', async () => {
    const { apps, opened } = fakeApps();
    await expect(apps.with('broken', async () => undefined)).rejects.toThrow('cannot open');
    await expect(apps.with('broken', async () => undefined)).rejects.toThrow('cannot open');
    expect(opened).toEqual(['broken', 'broken']);
    expect(apps.size).toBe(0);
  });

  it("a job's own error leaves the app open for the next job; closeAll closes every app", async () => {
    const { apps, closed } = fakeApps();
    await expect(
      apps.with('a', async () => {
        throw new Error('job failed');
      }),
    ).rejects.toThrow('job failed');
    await apps.with('b', async () => undefined);
    expect(apps.size).toBe(2);
    await apps.closeAll();
    expect(closed.sort()).toEqual(['a', 'b']);
    expect(apps.size).toBe(0);
  });

  it('a job that asks for another version (a backtest continued with other settings) gets a new app; the old one closes after its running job', async () => {
    const { apps, opened, closed } = fakeApps();
    await apps.with('a', async () => undefined, 'budget 0.1');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const running = apps.with('a', () => held, 'budget 0.1');
    let used: App | undefined;
    await apps.with('a', async (app) => void (used = app), 'budget 10');
    expect(opened).toEqual(['a', 'a']);
    expect(closed).toEqual([]); // the job that began with the old app still has it
    release();
    await running;
    expect(closed).toEqual(['a']);
    // The new one stays for the jobs of its version, and is the one closeAll closes.
    await apps.with('a', async (app) => expect(app).toBe(used), 'budget 10');
    expect(opened).toHaveLength(2);
    expect(apps.size).toBe(1);
    await apps.closeAll();
    expect(closed).toEqual(['a', 'a']);
  });

  it('a lent app serves its jobs and is never opened, closed or counted here', async () => {
    const { apps, opened, closed } = fakeApps();
    let lentClosed = false;
    const lent = { close: async () => void (lentClosed = true) } as unknown as App;
    apps.lend('mine', lent);
    let used: App | undefined;
    await apps.with('mine', async (app) => void (used = app));
    expect(used).toBe(lent);
    await apps.retire('mine');
    await apps.with('mine', async () => undefined);
    await apps.closeAll();
    expect(opened).toEqual([]);
    expect(closed).toEqual([]);
    expect(lentClosed).toBe(false);
    expect(apps.size).toBe(0);
  });
});
