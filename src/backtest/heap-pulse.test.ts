import { describe, expect, it } from 'vitest';
import { createHeapPulse, v8Collector } from './heap-pulse.js';

describe('heap pulse', () => {
  it('collects only once the heap has grown past the budget since the last collection', () => {
    let used = 100;
    let collected = 0;
    const pulse = createHeapPulse({
      growthBytes: 50,
      heapUsed: () => used,
      collect: () => {
        collected++;
        used = 110; // what the collection kept
      },
    });
    used = 149;
    expect(pulse.afterWeek()).toBe(false);
    used = 150;
    expect(pulse.afterWeek()).toBe(true);
    expect(collected).toBe(1);
    // The budget now counts from what the collection kept (110), not from the first baseline.
    used = 159;
    expect(pulse.afterWeek()).toBe(false);
    used = 160;
    expect(pulse.afterWeek()).toBe(true);
    expect(pulse.collections).toBe(2);
  });

  it('does nothing without a collector', () => {
    let used = 0;
    const pulse = createHeapPulse({ growthBytes: 1, heapUsed: () => used, collect: null });
    used = 1e9;
    expect(pulse.afterWeek()).toBe(false);
    expect(pulse.collections).toBe(0);
  });

  it("exposes V8's collector, which really frees garbage", () => {
    const gc = v8Collector();
    expect(gc).toBeTypeOf('function');
    gc?.();
    const before = process.memoryUsage().heapUsed;
    // About 40 MB of garbage that nothing keeps.
    let garbage: number[][] | null = Array.from({ length: 200 }, () => Array.from({ length: 25_000 }, (_, i) => i + 0.5));
    expect(process.memoryUsage().heapUsed - before).toBeGreaterThan(20 * 1024 * 1024);
    garbage = null;
    expect(garbage).toBeNull();
    gc?.();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(10 * 1024 * 1024);
  });
});
