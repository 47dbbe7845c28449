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
