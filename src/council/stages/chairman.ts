import { ofRun, type RunKey } from '../../storage/run-key.js';
import { reusableStatement, type Slots } from '../../storage/reusable-query.js';
import type { ReviewedPitch } from '../../ports/agents.js';
import { ChairmanDecision, type PmPitch } from '../../schemas/index.js';
import { decisions } from '../../storage/schema.js';
import { fanOut } from '../fan-out.js';
import { rawRecord, type Stage } from '../stage.js';
import { InvalidOutputError, parseAgentOutput } from './validate.js';

/** The chairman (CIO) sees pitches and reviews de-anonymized, only after review is complete. */
export const chairmanStage: Stage<'chairman'> = {
  name: 'chairman',
  inputs: ['snapshot', 'research', 'pm_pitches', 'peer_review'],
  async run(ctx) {
    const research = ctx.output('research').pack;
    const review = ctx.output('peer_review');
    const reviewed: ReviewedPitch[] = ctx
      .output('pm_pitches')
      .pitches.filter((p) => p.status === 'ok' && p.pitch)
      .map((p) => {
        const agg = review.aggregate.find((a) => a.seat === p.seat);
        return {
          seat: p.seat,
          model: p.model,
          pitch_id: p.seat,
          pitch: p.pitch as PmPitch,
          reviews: review.reviews.filter((r) => r.target_seat === p.seat && r.review).map((r) => ({ ...r.review!, pitch_id: p.seat })),
          mean_rank: agg?.mean_rank ?? Number.NaN,
          mean_score: agg?.mean_score ?? Number.NaN,
          votes: agg?.votes ?? 0,
        };
      });
    const [outcome] = await fanOut(
      ['chairman'],
      (_seat, signal) => ctx.agents.chairman.decide(ctx.weekContext(), research, reviewed, { signal }),
      { concurrency: 1, deadlineMs: ctx.config.models.council.call_deadline_seconds * 1000, signal: ctx.signal },
    );
    if (!outcome?.ok) throw new Error(`chairman: ${outcome?.error ?? 'no answer'}`);
    const decision = parseAgentOutput('chairman decision', ChairmanDecision, outcome.value.output);
    if (!ctx.config.tickers.includes(decision.selected_trade.ticker)) {
      throw new InvalidOutputError(`invalid chairman decision: ${decision.selected_trade.ticker} is not in the universe`);
    }
    const t = decision.selected_trade;
    return {
      output: { decision, provider: outcome.value.provider, model: outcome.value.model, usage: outcome.value.usage },
      raw: rawRecord('chairman', outcome.value.raw),
      summary: `${t.direction} ${t.ticker} (conviction ${decision.conviction}, ${t.horizon})`,
    };
  },
  async clear(tx, run) {
    await tx.delete(decisions).where(ofRun(decisions, run));
  },
  async persist(tx, run, output) {
    await insertDecision(tx, { ...run, provider: output.provider, model: output.model, decision: output.decision });
  },
};

const insertDecision = reusableStatement((tx, $: Slots<RunKey & { provider: string; model: string; decision: unknown }>) =>
  tx.insert(decisions).values({ portfolio: $.portfolio, weekId: $.weekId, provider: $.provider, model: $.model, decision: $.decision }),
);
