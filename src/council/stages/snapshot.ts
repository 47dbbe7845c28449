import type { Stage } from '../stage.js';

/** Market snapshot from bars strictly before the decision: through the previous session's close. */
export const snapshotStage: Stage<'snapshot'> = {
  name: 'snapshot',
  inputs: [],
  async run(ctx) {
    // Loaded here, not at start-up: the indicator library is only needed when a snapshot is made.
    const { buildSnapshot } = await import('../../market/snapshot.js');
    const snapshot = await buildSnapshot({
      week_id: ctx.week.week_id,
      asof_et: ctx.week.asof_et,
      through: ctx.week.data_through,
      universe: ctx.config.assets.assets,
      marketData: ctx.marketData,
    });
    return { output: snapshot, summary: `${snapshot.assets.length} instruments, bars through ${snapshot.data_through}` };
  },
};
