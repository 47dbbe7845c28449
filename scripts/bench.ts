/**
 * npm run bench — how close the weekly pipeline's wall time comes to its critical path.
 *
 * A local OpenAI-compatible stand-in answers every seat with valid JSON after an injected latency
 * (research 2 s; PMs 0.3–1.5 s; reviews 0.2–1.0 s by reviewer; chairman 0.8 s). The critical path is
 * research + slowest PM + slowest review + chairman: what a perfectly parallel pipeline would take.
 * Scenario 2 makes one PM never answer: the pitch stage must end at its deadline with quorum.
 * The stand-in runs in a worker thread (scripts/bench-stand-in.ts), like a provider on another machine.
 * The store is PGlite in memory (the embedded default); with BENCH_DATABASE_URL set to a PostgreSQL
 * server (e.g. postgres://postgres@127.0.0.1:5432/postgres) the scenarios run again on a scratch
 * database there, created and dropped by the bench.
 * Prints figures and exits 0; it asserts nothing (the tests do).
 */
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config/app-config.js';
import { parseEnv } from '../src/config/env.js';
import { resolveWeek } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { STAGES, type StageName } from '../src/council/stage.js';
import { openStore, type Store } from '../src/storage/db.js';
import { fastConfigDir } from '../tests/helpers/fast-config.js';
import { openScratchPostgres } from '../tests/helpers/stores.js';
import type { StandInLatencies } from './bench-stand-in.js';

const WEEK = '2024-03-06';
const RESEARCH_MS = 2000;
const CHAIRMAN_MS = 800;
const PM_MS: Record<string, number> = { gpt: 300, gemini: 700, sonnet: 1500, grok: 1000, deepseek: 500 };
const REVIEW_MS: Record<string, number> = { gpt: 200, gemini: 400, sonnet: 1000, grok: 600, deepseek: 800 };
const DEADLINE_S = 3;

interface Measured {
  wall: number;
  critical: number;
}

async function scenario(name: string, hangingSeat: string | null, openBenchStore: () => Promise<Store>, quiet = false): Promise<Measured> {
  // A TypeScript worker needs tsx registered inside it before its module loads.
  const entry = new URL('./bench-stand-in.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, {
    eval: true,
    workerData: {
      weekId: WEEK,
      researchMs: RESEARCH_MS,
      chairmanMs: CHAIRMAN_MS,
      pmMs: PM_MS,
      reviewMs: REVIEW_MS,
      hangingSeat,
    } satisfies StandInLatencies,
  });
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const configDir = fastConfigDir({ callDeadlineSeconds: DEADLINE_S });
  const store = await openBenchStore();
  const env = parseEnv({
    LLM_TRADING_HOME: `${configDir}/home`,
    REQUESTY_API_KEY: 'bench-key',
    REQUESTY_BASE_URL: `${url}/v1`,
    PERPLEXITY_API_KEY: 'bench-key',
    PERPLEXITY_BASE_URL: url,
  });
  const app = await openApp(env, loadConfig(configDir), { store, noCache: true });
  const stageMs: Record<string, number> = {};
  // As in the CLI: the week is resolved (and the bars loaded) before the pipeline starts.
  const week = await resolveWeek(WEEK, app.config, app.marketData);
  const t0 = performance.now();
  const { result, error } = await runWeek(app, week, [...STAGES], {}, (e) => {
    if (e.type === 'stage_completed' || e.type === 'stage_failed') stageMs[e.stage] = Math.round(e.ms);
  });
  const wall = performance.now() - t0;
  await app.close();
  await store.close();
  worker.postMessage('close');
  await new Promise((resolve) => worker.once('exit', resolve));
  rmSync(configDir, { recursive: true, force: true });
  if (error || result.status !== 'completed') throw new Error(`${name}: the run did not complete: ${error?.message ?? result.status}`);

  const answering = Object.keys(PM_MS).filter((s) => s !== hangingSeat);
  const slowestPm = hangingSeat ? DEADLINE_S * 1000 : Math.max(...answering.map((s) => PM_MS[s] ?? 0));
  const slowestReview = Math.max(...answering.map((s) => REVIEW_MS[s] ?? 0));
  const critical = RESEARCH_MS + slowestPm + slowestReview + CHAIRMAN_MS;
  const failed = result.pitches.filter((p) => p.status === 'failed').map((p) => `${p.seat} (${p.error})`);
  if (quiet) return { wall, critical };
  console.log(`\n${name}`);
  console.log(
    `  stages (ms): ${(['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as StageName[]).map((s) => `${s} ${stageMs[s] ?? '-'}`).join(', ')}`,
  );
  console.log(
    `  LLM calls: ${result.usage.calls}; pitches ok ${result.pitches.filter((p) => p.status === 'ok').length}/5${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
  );
  console.log(
    `  wall ${(wall / 1000).toFixed(3)} s vs critical path ${(critical / 1000).toFixed(3)} s${hangingSeat ? ` (incl. the ${DEADLINE_S} s deadline)` : ''}: ratio ${(wall / critical).toFixed(3)}`,
  );
  return { wall, critical };
}

const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ratio = (m: Measured) => m.wall / m.critical;

async function suite(storeName: string, openBenchStore: () => Promise<Store>): Promise<void> {
  console.log(`\n=== store: ${storeName}`);
  // The first run in a process pays for JIT compilation and first-use initialization; it is reported
  // apart, and the figures below are medians of warm runs.
  const cold = await scenario('warm-up', null, openBenchStore, true);
  const normal: Measured[] = [];
  const hanging: Measured[] = [];
  for (let i = 1; i <= RUNS; i++) {
    normal.push(
      await scenario(`1.${i} all seats answer (research 2 s, PMs 0.3–1.5 s, reviews 0.2–1.0 s, chairman 0.8 s)`, null, openBenchStore),
    );
    hanging.push(await scenario(`2.${i} one PM (grok) never answers; per-call deadline ${DEADLINE_S} s`, 'grok', openBenchStore));
  }
  console.log(`\nsummary on ${storeName} (median of ${RUNS} warm runs; stand-in on 127.0.0.1)`);
  console.log(
    `  wall / critical path                 = ${median(normal.map(ratio)).toFixed(3)}   (target <= 1.05; cold first run ${ratio(cold).toFixed(3)})`,
  );
  console.log(`  wall / (critical path with deadline) = ${median(hanging.map(ratio)).toFixed(3)}`);
}

await suite('PGlite in memory (the embedded default)', () => openStore({ memory: true }));
const serverUrl = process.env.BENCH_DATABASE_URL;
if (serverUrl) await suite(`PostgreSQL (a scratch database on ${new URL(serverUrl).host})`, () => openScratchPostgres(serverUrl));
else console.log('\n(set BENCH_DATABASE_URL to a PostgreSQL server to run the same scenarios on it)');
