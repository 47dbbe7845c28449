/**
 * HARD RULE: no new research mid-week. With LLM seats on the local stand-in, a whole week makes its
 * one research request before the pitches and none after: every checkpoint request is a
 * checkpoint_update from a PM or the chairman, carrying no research pack.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckpoints } from '../src/checkpoint/engine.js';
import { weekSlots } from '../src/checkpoint/schedule.js';
import { STAGES } from '../src/council/stage.js';
import { runWeek } from '../src/council/weekly.js';
import { measurePostmortem } from '../src/metrics/postmortem.js';
import { loadConfig } from '../src/config/app-config.js';
import { weekOf } from '../src/council/week.js';
import { openStore, type Store } from '../src/storage/db.js';
import { testApp } from './helpers/app.js';
import { councilResponder, offlineAnswers, schemaNameOf, seatOfModel } from './helpers/council-responder.js';
import { fastConfigDir } from './helpers/fast-config.js';
import { startStandIn, type StandIn, type StandInRequest } from './helpers/llm-stand-in.js';

const WEEK = '2024-03-06';

describe('checkpoints with LLM seats', () => {
  let standIn: StandIn;
  let store: Store;
  let configDir: string;
  const seen: { schema: string | null; kind: StandInRequest['kind']; seat: string | null; text: string }[] = [];
  beforeAll(async () => {
    const seatOf = seatOfModel({ config: loadConfig() }, 'requesty');
    const script = councilResponder(await offlineAnswers(WEEK), seatOf);
    standIn = await startStandIn((req, i) => {
      seen.push({
        schema: schemaNameOf(req),
        kind: req.kind,
        seat: seatOf(req.chat?.model ?? ''),
        text: (req.chat?.messages ?? []).map((m) => m.content).join('\n'),
      });
      return typeof script === 'function' ? script(req, i) : (script[i] as never);
    });
    store = await openStore({ memory: true });
    configDir = fastConfigDir({ callDeadlineSeconds: 5 });
  });
  afterAll(async () => {
    await standIn.close();
    await store.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('never asks for research during the checkpoints; each account asks its own owner', async () => {
    const app = await testApp(
      store,
      {
        LLM_TRADING_CONFIG_DIR: configDir,
        REQUESTY_API_KEY: 'rq-test-key-0123456789',
        REQUESTY_BASE_URL: `${standIn.url}/v1`,
        PERPLEXITY_API_KEY: 'pplx-test-key-0123456789',
        PERPLEXITY_BASE_URL: standIn.url,
      },
      { offline: false, portfolio: 'llm' },
    );
    try {
      // The Wednesday, then the checkpoints of its first two days (each one asks all six owners).
      const week = weekOf(WEEK, app.config);
      const weekly = await runWeek(app, week, [...STAGES], {}, () => undefined);
      expect(weekly.error).toBeNull();
      expect(weekly.result.mode).toBe('perplexity+requesty');
      const checkpoints = await runCheckpoints(
        app,
        week,
        weekSlots(week, app.config).filter((s) => s.date <= '2024-03-07'),
      );
      const firstCheckpoint = seen.findIndex((s) => s.schema === 'checkpoint_update');
      expect(firstCheckpoint).toBeGreaterThan(0);
      const during = seen.slice(firstCheckpoint);
      // Research happened once, before the week's decision; nothing but checkpoint updates afterwards.
      expect(seen.filter((s) => s.schema === 'research_pack' && s.kind !== 'async_poll')).toHaveLength(1);
      expect(new Set(during.map((s) => s.schema))).toEqual(new Set(['checkpoint_update']));
      expect(during.every((s) => s.kind === 'chat')).toBe(true);
      expect(during.some((s) => /macro_regime|research_pack|top_narratives/.test(s.text))).toBe(false);
      // The council account asks the chairman's model; each PM account its own.
      expect(new Set(during.map((s) => s.seat))).toEqual(new Set(['gpt', 'gemini', 'sonnet', 'grok', 'deepseek', 'chairman']));
      const ran = checkpoints.filter((c) => c.status === 'completed');
      expect(ran).toHaveLength(7);
      expect(ran.length).toBeGreaterThan(0);
      // The stand-in always says STAY: no checkpoint order, and the agent is the model, not a persona.
      for (const c of ran)
        for (const u of c.updates.filter((x) => x.status === 'ok')) expect(u).toMatchObject({ action: 'STAY', orders: [] });
      expect(ran[0]?.updates.find((u) => u.owner === 'council')?.agent).toBe('anthropic/claude-opus-4-5');
      expect((await measurePostmortem(app, week)).checkpoints).toBe(ran.length);
    } finally {
      await app.cleanup();
    }
  });
});
