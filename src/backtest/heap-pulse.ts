/**
 * Keeps a long backtest's memory near its live heap.
 *
 * A backtest's live JavaScript heap stays about 50 MB, but every week allocates objects that live
 * for the week (its snapshot, stage outputs, statement parameters) and so survive two scavenges and
 * are promoted to the old generation, about 1 MB per scavenge. V8 lets the old generation grow to
 * about four times what the last full collection kept before it collects again, so over hundreds of
 * weeks the heap reached 200+ MB with 50 MB alive and the process peaked near 500 MB (measured with
 * --trace-gc on the bundled range). A full collection whenever the heap has grown by `growthBytes`
 * since the last one keeps the peak about 130 MB lower; it costs a few tens of milliseconds every
 * dozen weeks (`npm run bench` measures the whole).
 *
 * The collector is V8's own `gc`, exposed for this process with a flag set at run time (the
 * documented `v8.setFlagsFromString` and a new context to read it from). If that is unavailable,
 * the pulse does nothing and V8 behaves as before.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HeapPulseOptions {
  /** Collect when the heap in use has grown by this much since the last collection (default 64 MiB). */
  growthBytes?: number;
  /** For tests: the heap in use now, and the collector. */
  heapUsed?: () => number;
  collect?: (() => void) | null;
}

export interface HeapPulse {
  /** Called between weeks: collects if the heap has grown past the budget. Returns whether it did. */
  afterWeek(): boolean;
  /** Full collections so far. */
  readonly collections: number;
}

export const DEFAULT_HEAP_GROWTH_BYTES = 64 * 1024 * 1024;

export function createHeapPulse(options: HeapPulseOptions = {}): HeapPulse {
  const growth = options.growthBytes ?? DEFAULT_HEAP_GROWTH_BYTES;
  const heapUsed = options.heapUsed ?? (() => process.memoryUsage().heapUsed);
  const collect = options.collect === undefined ? v8Collector() : options.collect;
  let baseline = heapUsed();
  let collections = 0;
  return {
    afterWeek() {
      if (!collect || heapUsed() - baseline < growth) return false;
      collect();
      collections++;
      baseline = heapUsed();
      return true;
    },
    get collections() {
      return collections;
    },
  };
}

let cached: (() => void) | null | undefined;

/** V8's full collector, or null when it cannot be exposed. */
export function v8Collector(): (() => void) | null {
  if (cached !== undefined) return cached;
  try {
    const exposed = (globalThis as { gc?: unknown }).gc;
    if (typeof exposed === 'function') return (cached = exposed as () => void);
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    cached = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    cached = null;
  }
  return cached;
}
