/**
 * npm run bench (part 3) — a whole offline week (Wednesday pipeline + every checkpoint + postmortem)
 * against the Wednesday pipeline alone, in-process, each on a fresh database: backtests run the whole
 * week hundreds of times, so its cost is reported as a ratio to the pipeline (goal ≤ 2×). PGlite in
 * memory; with BENCH_DATABASE_URL, a scratch PostgreSQL database too. Prints figures, asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../src/app.js';
import { runWholeWeek } from '../src/checkpoint/whole-week.js';
import { loadConfig } from '../src/config/app-config.js';
import { parseEnv } from '../src/config/env.js';
import { STAGES } from '../src/council/stage.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { BundledMarketData } from '../src/market/bundled-market-data.js';
import { openStore, type Store } from '../src/storage/db.js';
import { openScratchPostgres } from '../tests/helpers/stores.js';

const WEEK = '2025-06-18';
const RUNS = 7;
const quiet = () => undefined;
const marketData = new BundledMarketData();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(openBenchStore: () => Promise<Store>, whole: boolean): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'lt-bench-week-'));
  const store = await openBenchStore();
  const app = await openApp(parseEnv({ LLM_TRADING_HOME: home }), loadConfig(), { offline: true, store, marketData });
  const week = weekOf(WEEK, app.config);
  const t0 = performance.now();
  if (whole) {
    const result = await runWholeWeek(app, week, {}, quiet);
    if (result.weekly.error || !result.postmortem) throw new Error('the whole week did not complete');
  } else {
    const { error } = await runWeek(app, week, [...STAGES], {}, quiet);
    if (error) throw error;
  }
  const ms = performance.now() - t0;
  await app.close();
  await store.close();
  rmSync(home, { recursive: true, force: true });
  return ms;
}

async function suite(name: string, openBenchStore: () => Promise<Store>): Promise<void> {
  await timed(openBenchStore, true); // warm-up: JIT and first-use initialization
  const pipeline: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    pipeline.push(await timed(openBenchStore, false));
    whole.push(await timed(openBenchStore, true));
  }
  const p = median(pipeline);
  const w = median(whole);
  console.log(`\nwhole offline week of ${WEEK} on ${name} (median of ${RUNS}, in-process, fresh database each)`);
  console.log(
    `  pipeline alone ${p.toFixed(0)} ms; pipeline + 15 checkpoints + postmortem ${w.toFixed(0)} ms: ratio ${(w / p).toFixed(2)} (goal <= 2)`,
  );
}

await suite('PGlite in memory', () => openStore({ memory: true }));
const serverUrl = process.env.BENCH_DATABASE_URL;
if (serverUrl) await suite(`PostgreSQL (${new URL(serverUrl).host})`, () => openScratchPostgres(serverUrl));
