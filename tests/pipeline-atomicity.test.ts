import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Pipeline, StageFailedError } from '../src/council/pipeline.js';
import type { Stage } from '../src/council/stage.js';
import { runWeek, WEEKLY_STAGES } from '../src/council/weekly.js';
import { weekOf } from '../src/council/week.js';
import type { AnonymizedPitch, PortfolioManager } from '../src/ports/agents.js';
import { Artifacts } from '../src/storage/artifacts.js';
import type { Store } from '../src/storage/db.js';
import { events, pitches, reviewLabels, stageRuns } from '../src/storage/schema.js';
import { resetStore, testApp } from './helpers/app.js';
import { storeFactories } from './helpers/stores.js';

const WEEK = '2024-03-06';

describe.each(storeFactories)('stage atomicity and anonymity on $name', (factory) => {
  let store: Store;
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await resetStore(store);
  });

  it('a stage whose persist fails midway leaves no rows, no completed marker and no completion event', async () => {
    const app = await testApp(store);
    try {
      const week = weekOf(WEEK, app.config);
      await runWeek(app, week, ['snapshot', 'research'], {}, () => undefined);
      const real = WEEKLY_STAGES.get('pm_pitches') as Stage<'pm_pitches'>;
      const failing: Stage<'pm_pitches'> = {
        ...real,
        async persist(tx, run, output) {
          await real.persist?.(tx, run, output); // five rows written inside the transaction…
          throw new Error('disk full'); // …then the write fails
        },
      };
      const stages = new Map(WEEKLY_STAGES).set('pm_pitches', failing as unknown as Stage);
      const run = { portfolio: app.portfolio, weekId: WEEK };
      const pipeline = new Pipeline(store.db, new Artifacts(app.home, app.portfolio), stages, () => undefined, run);
      await pipeline.load();
      const ctx = {
        portfolio: app.portfolio,
        week,
        config: app.config,
        store,
        marketData: app.marketData,
        broker: app.broker,
        clock: app.clock,
        agents: app.agents,
        ledger: app.ledger,
        progress: () => undefined,
        output: <S extends Parameters<typeof pipeline.output>[0]>(s: S) => pipeline.output(s),
        weekContext: () => ({
          week_id: WEEK,
          asof_et: week.asof_et,
          universe: app.config.assets.assets,
          snapshot: pipeline.output('snapshot'),
        }),
      };
      await expect(pipeline.run(ctx, ['pm_pitches'])).rejects.toThrow(StageFailedError);
      await expect(pipeline.run(ctx, ['pm_pitches'])).rejects.toThrow('pm_pitches failed: could not persist the output: disk full');
      const [rows] = await store.db.select({ n: count() }).from(pitches);
      expect(rows?.n).toBe(0);
      const [marker] = await store.db.select().from(stageRuns).where(eq(stageRuns.stage, 'pm_pitches'));
      expect(marker?.status).toBe('failed');
      const completions = await store.db.select().from(events).where(eq(events.kind, 'stage_completed'));
      expect(completions.map((e) => e.stage).sort()).toEqual(['research', 'snapshot']);
    } finally {
      await app.cleanup();
    }
  });

  it('reviewers see labels only: never their own pitch, never a model name; the label map is stored', async () => {
    const app = await testApp(store);
    const seen: { reviewer: string; target: AnonymizedPitch; ownModel: string | undefined }[] = [];
    const pms = new Map(
      [...app.agents.pms].map(([seat, pm]): [string, PortfolioManager] => [
        seat,
        {
          seat,
          pitch: (ctx, research, opts) => pm.pitch(ctx, research, opts),
          review: (ctx, target, own, opts) => {
            seen.push({ reviewer: seat, target: structuredClone(target), ownModel: own?.pm_model });
            return pm.review(ctx, target, own, opts);
          },
          checkpoint: (ctx, opts) => pm.checkpoint(ctx, opts),
        },
      ]),
    );
    try {
      const spied = { ...app, agents: { ...app.agents, pms } };
      const { result } = await runWeek(
        spied,
        weekOf(WEEK, app.config),
        ['snapshot', 'research', 'pm_pitches', 'peer_review'],
        {},
        () => undefined,
      );
      const models = result.pitches.map((p) => p.model);
      expect(seen).toHaveLength(20);
      const labels = await store.db.select().from(reviewLabels);
      for (const { reviewer, target } of seen) {
        const text = JSON.stringify(target);
        expect(target.pitch).not.toHaveProperty('pm_model');
        for (const model of models) expect(text).not.toContain(model);
        for (const seat of app.config.pmSeats) expect(text).not.toContain(`"${seat}"`);
        const label = labels.find((l) => l.reviewer === reviewer && l.pitchId === target.pitch_id);
        expect(label?.targetSeat).toBeDefined();
        expect(label?.targetSeat).not.toBe(reviewer);
        // The pitch shown under the label is the target seat's pitch.
        const original = result.pitches.find((p) => p.seat === label?.targetSeat)?.pitch as { selected_trade: unknown };
        expect(target.pitch.selected_trade).toEqual(original.selected_trade);
      }
    } finally {
      await app.cleanup();
    }
  });
});
