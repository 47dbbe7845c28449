/**
 * The checkpoint call of an LLM seat (a PM on its own account, the chairman on the council's): the
 * checkpoint prompt with the position, the week's thesis and rule, the frozen indicators and the
 * engine's trigger verdict; structured output `checkpoint_update`, re-asked on inconsistent answers
 * (src/checkpoint/update-rules.ts). No research pack is rendered and no research request is made.
 */
import { checkpointUpdateProblems } from '../../checkpoint/update-rules.js';
import type { AgentResult, CallOptions, CheckpointContext } from '../../ports/agents.js';
import { renderPrompt } from '../../prompts/render.js';
import { PROMPTS, checkpointVariables } from '../../prompts/variables.js';
import { completeForSeat, toAgentResult, type LlmSeatOptions } from '../../research/llm/llm-seat.js';
import { CheckpointUpdate } from '../../schemas/index.js';
import { toJsonSchema } from '../../schemas/json-schema.js';

export const CHECKPOINT_STAGE = 'checkpoint';

export async function llmCheckpoint(
  options: LlmSeatOptions,
  ctx: CheckpointContext,
  opts: CallOptions,
): Promise<AgentResult<CheckpointUpdate>> {
  const p = ctx.position;
  const variables = checkpointVariables({
    week_id: ctx.week_id,
    checkpoint_et: ctx.checkpoint_et,
    account_id: ctx.account_id,
    universe: ctx.universe,
    position: {
      ticker: p.ticker,
      direction: p.direction,
      horizon: ctx.horizon,
      conviction: ctx.conviction_before,
      qty: p.qty,
      avg_entry_price: p.avg_entry_price,
      last_price: p.price,
      unrealized_pl: p.unrealized_pnl,
      unrealized_pl_pct: p.return_since_entry,
    },
    thesis_bullets: ctx.thesis_bullets,
    invalidation_rule: ctx.invalidation_rule,
    key_indicators: ctx.key_indicators,
    indicators: ctx.indicators,
    trigger_check: ctx.trigger ? ctx.trigger.text : 'no machine-checkable trigger was given this week',
    price_note: `last price = ${p.price_source} (the last print knowable at this checkpoint)`,
  });
  const result = await completeForSeat(options, {
    weekId: ctx.week_id,
    stage: CHECKPOINT_STAGE,
    messages: renderPrompt(PROMPTS.checkpoint, variables, { dir: options.promptsDir }),
    output: {
      name: 'checkpoint_update',
      jsonSchema: toJsonSchema('checkpoint_update'),
      schema: CheckpointUpdate,
      check: (update) => checkpointUpdateProblems(update, ctx),
    },
    signal: opts.signal,
  });
  return toAgentResult(result, { ...result.value, checkpoint_et: ctx.checkpoint_et });
}
