import { describe, expect, it } from 'vitest';
import { TurnBatch } from './turn-batch.js';

describe('TurnBatch: what one turn of the event loop asks for, flushed together', () => {
  it('flushes the items of one turn once, gives every caller the result, and starts afresh in the next turn', async () => {
    const flushed: number[][] = [];
    const batch = new TurnBatch<number[], number>(
      () => [],
      async (items) => {
        flushed.push(items);
        return items.length;
      },
    );
    const results = await Promise.all([1, 2, 3].map((n) => batch.join((items) => items.push(n))));
    expect(results).toEqual([3, 3, 3]);
    expect(flushed).toEqual([[1, 2, 3]]);
    expect(await batch.join((items) => items.push(4))).toBe(1);
    expect(flushed).toEqual([[1, 2, 3], [4]]);
  });

  it("rejects every caller of a turn whose flush fails; the next turn's flush runs", async () => {
    let fail = true;
    const batch = new TurnBatch<string[], string>(
      () => [],
      async (items) => {
        if (fail) throw new Error(`refused ${items.join(',')}`);
        return items.join(',');
      },
    );
    const settled = await Promise.allSettled([batch.join((i) => i.push('a')), batch.join((i) => i.push('b'))]);
    expect(settled.map((s) => (s.status === 'rejected' ? String(s.reason) : s.value))).toEqual([
      'Error: refused a,b',
      'Error: refused a,b',
    ]);
    fail = false;
    expect(await batch.join((i) => i.push('c'))).toBe('c');
  });
});
