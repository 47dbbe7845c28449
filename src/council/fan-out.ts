import { stopsTheRun } from '../errors.js';

/**
 * Call many seats in parallel with a concurrency limit and a per-call deadline.
 * A call that ignores its AbortSignal still ends at the deadline: we stop waiting for it.
 * A call that fails with an error that stops the run (stopsTheRun: the backtest's budget) is not one
 * seat's failure: no further call starts, the calls in flight finish (their answers are paid for and
 * cached), and fanOut throws that error.
 */
export type SeatOutcome<T> = { seat: string; ok: true; value: T; ms: number } | { seat: string; ok: false; error: string; ms: number };

export interface FanOutOptions {
  concurrency: number;
  deadlineMs: number;
  /** Aborts every pending call (e.g. the user pressed Ctrl-C). */
  signal?: AbortSignal;
}

export class DeadlineError extends Error {}

export async function fanOut<T>(
  seats: readonly string[],
  call: (seat: string, signal: AbortSignal) => Promise<T>,
  options: FanOutOptions,
): Promise<SeatOutcome<T>[]> {
  const outcomes = new Array<SeatOutcome<T>>(seats.length);
  let next = 0;
  const stop: { error?: Error } = {};
  // One listener on the caller's signal for the whole fan-out, not one per call: a long-lived signal
  // (the scheduler's, a backtest's) is shared by every fan-out of every week running at once, and a
  // listener per call in flight went past Node's warning threshold (20 reviews at once).
  const inFlight = new Set<AbortController>();
  const onParentAbort = () => {
    for (const controller of inFlight) controller.abort(options.signal?.reason);
  };
  options.signal?.addEventListener('abort', onParentAbort, { once: true });
  const worker = async (): Promise<void> => {
    while (!stop.error && next < seats.length) {
      const index = next++;
      const seat = seats[index] as string;
      const outcome = await callWithDeadline(seat, call, options, inFlight);
      if ('stop' in outcome) stop.error ??= outcome.stop;
      else outcomes[index] = outcome;
    }
  };
  try {
    const workers = Array.from({ length: Math.min(options.concurrency, seats.length) }, worker);
    await Promise.all(workers);
  } finally {
    options.signal?.removeEventListener('abort', onParentAbort);
  }
  if (stop.error) throw stop.error;
  return outcomes;
}

async function callWithDeadline<T>(
  seat: string,
  call: (seat: string, signal: AbortSignal) => Promise<T>,
  options: FanOutOptions,
  inFlight: Set<AbortController>,
): Promise<SeatOutcome<T> | { stop: Error }> {
  const started = performance.now();
  const controller = new AbortController();
  // A caller that has already aborted gets calls that are aborted from the start (a listener added
  // now would never fire).
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  inFlight.add(controller);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineError(`no answer within the ${formatSeconds(options.deadlineMs)} deadline`);
      controller.abort(error);
      reject(error);
    }, options.deadlineMs);
  });
  try {
    const value = await Promise.race([call(seat, controller.signal), deadline]);
    return { seat, ok: true, value, ms: performance.now() - started };
  } catch (error) {
    if (stopsTheRun(error)) return { stop: error };
    return { seat, ok: false, error: errorMessage(error), ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
    inFlight.delete(controller);
  }
}

/** Too few seats answered. `seats` says, seat by seat, who answered and why the others did not. */
export class QuorumError extends Error {
  constructor(
    message: string,
    readonly seats: readonly SeatStatus[],
  ) {
    super(message);
  }
}

export interface SeatStatus {
  seat: string;
  ok: boolean;
  error?: string;
}

/** Throws when fewer than `quorum` seats answered, naming every failed seat and why. */
export function requireQuorum<T>(what: string, outcomes: readonly SeatOutcome<T>[], quorum: number): void {
  const ok = outcomes.filter((o) => o.ok).length;
  if (ok >= quorum) return;
  const failures = outcomes
    .filter((o): o is Extract<SeatOutcome<T>, { ok: false }> => !o.ok)
    .map((o) => `${o.seat}: ${o.error}`)
    .join('; ');
  throw new QuorumError(
    `${what}: only ${ok} of ${outcomes.length} seats answered, quorum is ${quorum} (${failures})`,
    outcomes.map((o) => (o.ok ? { seat: o.seat, ok: true } : { seat: o.seat, ok: false, error: o.error })),
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}
