/**
 * How fast the machine is right now, for the benchmarks to print beside their figures: the shared
 * 2-core machine ran one build 1.6–2.5 × slower from one session to the next, and drifted within a
 * session. Figures from different days compare only with these beside them.
 *   - loop: a fixed CPU-bound loop (338–412 ms on the days the README's figures were measured;
 *     906–1,170 ms on 2026-12-04, when an offline backtest ran about 3.5 × slower than on those days)
 *   - allocation: 1e6 small objects made and kept (the young generation's work)
 *   - embedded insert: the median time of a small insert through PGlite's `query`, in memory, after a
 *     warm-up — the embedded database is about two fifths of an offline backtest's CPU (an earlier
 *     session measured ≈ 145 µs for such an insert; 899 µs on 2026-12-04)
 */
import { newPglite } from '../src/storage/pglite-open.js';

function loopMs(): number {
  const started = performance.now();
  let sum = 0;
  for (let i = 0; i < 300_000_000; i++) sum += i % 7;
  if (sum < 0) console.log(sum); // keeps the loop from being optimised away
  return performance.now() - started;
}

function allocationMs(): number {
  const started = performance.now();
  const kept: { i: number; s: string }[] = [];
  for (let i = 0; i < 1_000_000; i++) kept.push({ i, s: `a${i}` });
  if (kept.length < 0) console.log(kept);
  return performance.now() - started;
}

async function insertMicros(): Promise<number> {
  // As the project opens one (its settings, from the blank template when built: no initdb to wait for).
  const db = newPglite({}).client;
  try {
    await db.waitReady;
    await db.exec('create table t (id serial primary key, v text)');
    const value = 'x'.repeat(1000);
    for (let i = 0; i < 200; i++) await db.query('insert into t (v) values ($1)', [value]); // warm-up
    const times: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      await db.query('insert into t (v) values ($1)', [value]);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return (times[times.length >> 1] as number) * 1000;
  } finally {
    await db.close();
  }
}

/** One line: "loop 3e8 steps 370 ms · 1e6 objects 410 ms · embedded insert 150 µs (median)". */
export async function machineSpeed(): Promise<string> {
  const loop = loopMs();
  const allocation = allocationMs();
  const insert = await insertMicros();
  return `loop of 3e8 steps ${loop.toFixed(0)} ms · 1e6 objects ${allocation.toFixed(0)} ms · embedded insert ${insert.toFixed(0)} µs (median of 1,000)`;
}
