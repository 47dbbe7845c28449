import { setTimeout as delay } from 'node:timers/promises';

/** The time the system acts at. Simulated: set by the pipeline (backtests, demo); a wall clock comes with live trading. */
export interface Clock {
  now(): Date;
}

export class SimulatedClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(instant: Date): void {
    this.current = new Date(instant.getTime());
  }
}

/**
 * Waits `ms`, or less when the signal aborts (then it resolves too: the caller checks the signal).
 * Node's abortable timer removes its listener when the wait ends, so a daemon that sleeps thousands
 * of times on one signal does not pile up listeners.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
}
