import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from './clock.js';

describe('sleep', () => {
  it('leaves no listener on the signal after a wait, however many waits share it', async () => {
    const signal = new AbortController().signal;
    for (let i = 0; i < 25; i++) await sleep(1, signal);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('ends early, without an error, when the signal aborts', async () => {
    const stop = new AbortController();
    const started = performance.now();
    const waiting = sleep(10_000, stop.signal);
    setTimeout(() => stop.abort(), 20);
    await expect(waiting).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect(sleep(10_000, stop.signal)).resolves.toBeUndefined();
  });
});
