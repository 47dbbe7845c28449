import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../src/app.js';
import { runWholeWeek } from '../src/checkpoint/whole-week.js';
import { loadConfig } from '../src/config/app-config.js';
import { parseEnv } from '../src/config/env.js';
import { weekOf } from '../src/council/week.js';
import { openStore } from '../src/storage/db.js';
(globalThis as any).TR = [];
for (let i = 0; i < 3; i++) {
  (globalThis as any).TR = [];
  const store = await openStore({ memory: true });
  const app = await openApp(parseEnv({ LLM_TRADING_HOME: mkdtempSync(join(tmpdir(), 'p-')) }), loadConfig(), { offline: true, store });
  const t0 = performance.now();
  let last = t0;
  const marks: string[] = [];
  await runWholeWeek(app, weekOf('2025-06-18', app.config), {}, (e) => { if (e.type === 'stage_completed' && e.stage === 'execute') { marks.push(`pipeline ${(performance.now() - t0).toFixed(0)}`); last = performance.now(); } }, (c) => { marks.push(`${c.time} ${(performance.now() - last).toFixed(0)}`); last = performance.now(); });
  marks.push(`pm ${(performance.now() - last).toFixed(0)} total ${(performance.now() - t0).toFixed(0)}`);
  console.log(marks.join(' | '));
  const agg = new Map<string, number>(); for (const x of (globalThis as any).TR as string[]) { const [k, v] = x.split('='); agg.set(k!, (agg.get(k!) ?? 0) + Number(v)); } console.log([...agg].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '));
  await store.close();
}
