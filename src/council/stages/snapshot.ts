import { buildSnapshot } from '../../market/snapshot.js';
import type { Stage } from '../stage.js';

/** Market snapshot from bars strictly before the decision: through the previous session's close. */
export const snapshotStage: Stage<'snapshot'> = {
  name: 'snapshot',
  inputs: [],
  async run(ctx) {
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
