import { describe, expect, it } from 'vitest';
import { fanOut, QuorumError, requireQuorum } from './fan-out.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fanOut', () => {
  it('returns outcomes in seat order with values and errors', async () => {
    const out = await fanOut(
      ['a', 'b', 'c'],
      async (seat) => {
        if (seat === 'b') throw new Error('boom');
        return seat.toUpperCase();
      },
      { concurrency: 3, deadlineMs: 1000 },
    );
    expect(out.map((o) => o.seat)).toEqual(['a', 'b', 'c']);
    expect(out[0]).toMatchObject({ ok: true, value: 'A' });
    expect(out[1]).toMatchObject({ ok: false, error: 'boom' });
  });

  it('never runs more than `concurrency` calls at once', async () => {
    let running = 0;
    let peak = 0;
    await fanOut(
      ['1', '2', '3', '4', '5', '6'],
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(20);
        running--;
      },
      { concurrency: 2, deadlineMs: 1000 },
    );
    expect(peak).toBe(2);
  });

  it('ends a call that never answers at its deadline and aborts its signal', async () => {
    let aborted = false;
    const started = Date.now();
    const out = await fanOut(
      ['hang', 'fast'],
      (seat, signal) => {
        if (seat === 'fast') return Promise.resolve('ok');
        signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => undefined);
      },
      { concurrency: 2, deadlineMs: 150 },
    );
    const elapsed = Date.now() - started;
    expect(out[0]).toMatchObject({ ok: false });
    expect(out[0]?.ok === false && out[0].error).toMatch(/deadline/);
    expect(out[1]).toMatchObject({ ok: true, value: 'ok' });
    expect(aborted).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  it('stops at an error that stops the run: starts nothing more, lets the calls in flight finish, throws it', async () => {
    class Refused extends Error {
      readonly stopsTheRun = true;
    }
    const started: string[] = [];
    const finished: string[] = [];
    const run = fanOut(
      ['a', 'b', 'c', 'd', 'e'],
      async (seat) => {
        started.push(seat);
        if (seat === 'b') throw new Refused('over budget');
        await sleep(seat === 'a' ? 40 : 5);
        finished.push(seat);
        return seat;
      },
      { concurrency: 2, deadlineMs: 1000 },
    );
    await expect(run).rejects.toThrow(Refused);
    // b's refusal stopped the fan-out: its worker started nothing more; a, in flight, finished first.
    expect(started).toEqual(['a', 'b']);
    expect(finished).toEqual(['a']);
  });
});

describe('requireQuorum', () => {
  it('passes with enough answers and names the failed seats otherwise', () => {
    const outcomes = [
      { seat: 'a', ok: true as const, value: 1, ms: 1 },
      { seat: 'b', ok: false as const, error: 'timeout', ms: 1 },
      { seat: 'c', ok: false as const, error: 'invalid pitch', ms: 1 },
    ];
    expect(() => requireQuorum('pm_pitches', outcomes, 1)).not.toThrow();
    expect(() => requireQuorum('pm_pitches', outcomes, 2)).toThrow(QuorumError);
    expect(() => requireQuorum('pm_pitches', outcomes, 2)).toThrow(
      'only 1 of 3 seats answered, quorum is 2 (b: timeout; c: invalid pitch)',
    );
  });
});

describe('fanOut and the caller signal', () => {
  it("adds one listener to the caller's signal however many calls are in flight, and removes it", async () => {
    const parent = new AbortController();
    let added = 0;
    let removed = 0;
    const add = parent.signal.addEventListener.bind(parent.signal);
    const remove = parent.signal.removeEventListener.bind(parent.signal);
    parent.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      added++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    parent.signal.removeEventListener = ((...args: Parameters<AbortSignal['removeEventListener']>) => {
      removed++;
      remove(...args);
    }) as AbortSignal['removeEventListener'];
    const seats = Array.from({ length: 20 }, (_, i) => `s${i}`);
    const out = await fanOut(seats, async (seat) => (await sleep(5), seat), { concurrency: 20, deadlineMs: 1000, signal: parent.signal });
    expect(out.map((o) => o.ok && o.value)).toEqual(seats);
    expect(added).toBe(1);
    expect(removed).toBe(1);
  });

  it('aborting the caller aborts every call in flight with its reason', async () => {
    const parent = new AbortController();
    const reasons: unknown[] = [];
    const run = fanOut(
      ['a', 'b', 'c'],
      (_seat, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            reasons.push(signal.reason);
            reject(new Error('aborted'));
          }),
        ),
      { concurrency: 3, deadlineMs: 5000, signal: parent.signal },
    );
    await sleep(10);
    parent.abort('ctrl-c');
    const out = await run;
    expect(out.every((o) => !o.ok)).toBe(true);
    expect(reasons).toEqual(['ctrl-c', 'ctrl-c', 'ctrl-c']);
  });

  it('a caller already aborted gets calls whose signal is aborted from the start', async () => {
    const parent = new AbortController();
    parent.abort('gone');
    const seen: boolean[] = [];
    await fanOut(['a', 'b'], async (_seat, signal) => seen.push(signal.aborted), {
      concurrency: 1,
      deadlineMs: 1000,
      signal: parent.signal,
    });
    expect(seen).toEqual([true, true]);
  });
});
