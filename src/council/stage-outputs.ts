import { and, eq, inArray, type SQL } from 'drizzle-orm';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { stageRuns } from '../storage/schema.js';
import type { StageName } from './stage.js';

/**
 * A reusable read of a week's completed stages among `stages`, each with its output as `output`
 * projects it (a reader asks only for what it reads: the outputs of some stages are large).
 */
export function completedStageOutputs(stages: readonly StageName[], output: SQL<unknown>) {
  return reusableRows({ stage: stageRuns.stage, output }, (db, $: Slots<RunKey>, fields) =>
    db
      .select(fields)
      .from(stageRuns)
      .where(and(ofRun(stageRuns, $), eq(stageRuns.status, 'completed'), inArray(stageRuns.stage, [...stages]))),
  );
}
