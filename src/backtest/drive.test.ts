import { describe, expect, it } from 'vitest';
import { idleOrTimeout, PollWait } from './drive.js';

const elapsed = async (work: () => Promise<void>) => {
  const t = performance.now();
  await work();
  return performance.now() - t;
};

describe('the queue progress loop', () => {
  it('pauses for its interval unless woken; a wake while it reads ends the next pause at once', async () => {
    const poll = new PollWait();
    expect(await elapsed(() => poll.wait(40))).toBeGreaterThanOrEqual(35);
    // Woken during the pause: it ends long before its 10 s.
    const waiting = poll.wait(10_000);
    setTimeout(() => poll.wake(), 10);
    expect(await elapsed(() => waiting)).toBeLessThan(5_000);
    // Woken between pauses (a job finished while the loop was reading): the next pause is skipped, once.
    poll.wake();
    expect(await elapsed(() => poll.wait(10_000))).toBeLessThan(1_000);
    expect(await elapsed(() => poll.wait(40))).toBeGreaterThanOrEqual(35);
    // An aborted signal ends the pause too.
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 10);
    expect(await elapsed(() => poll.wait(10_000, abort.signal))).toBeLessThan(5_000);
  });

  it('waits for the worker to be idle, but not longer than its bound', async () => {
    expect(await elapsed(() => idleOrTimeout({ idle: () => new Promise((r) => setTimeout(r, 20)) }, 10_000))).toBeLessThan(5_000);
    const never = { idle: () => new Promise<void>(() => undefined) };
    const waited = await elapsed(() => idleOrTimeout(never, 50));
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(5_000);
  });
});
