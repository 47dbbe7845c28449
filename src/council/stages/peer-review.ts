import { ofRun, type RunKey } from '../../storage/run-key.js';
import { reusableRows, type Slots } from '../../storage/reusable-query.js';
import { PeerReview, meanScore, type PmPitch } from '../../schemas/index.js';
import { insertRows } from '../../storage/bulk-insert.js';
import { aggregates, reviewLabels, reviews, runs } from '../../storage/schema.js';
import { aggregateReviews } from '../aggregation.js';
import { assignReviewLabels, type LabelAssignment } from '../anonymizer.js';
import { fanOut, requireQuorum, type SeatOutcome } from '../fan-out.js';
import { rawRecord, ZERO_USAGE, type PipelineContext, type RawRecord, type ReviewEntry, type Stage } from '../stage.js';
import { InvalidOutputError, parseAgentOutput } from './validate.js';
import type { AnonymizedPitch } from '../../ports/agents.js';

/**
 * Anonymized peer review: every PM with a pitch reviews every other pitch, under labels shuffled per
 * reviewer from the run's seed, without model names. The label→seat map and the aggregate are persisted.
 */
export const peerReviewStage: Stage<'peer_review'> = {
  name: 'peer_review',
  inputs: ['snapshot', 'pm_pitches'],
  async run(ctx) {
    const okPitches = ctx.output('pm_pitches').pitches.filter((p) => p.status === 'ok' && p.pitch !== null);
    const authors = okPitches.map((p) => p.seat);
    const seed = await reviewSeed(ctx);
    const labels = assignReviewLabels(seed, authors, authors);
    const pitchOf = new Map(okPitches.map((p) => [p.seat, p.pitch as PmPitch]));
    const weekCtx = ctx.weekContext();

    // Every (reviewer, pitch) review is its own call, all in parallel under the concurrency limit,
    // so the stage takes as long as its slowest review, not a reviewer's sum.
    const byKey = new Map(labels.map((l) => [`${l.reviewer} on ${l.pitch_id}`, l]));
    const outcomes = await fanOut(
      [...byKey.keys()],
      async (key, signal) => {
        const label = byKey.get(key) as LabelAssignment;
        const pm = ctx.agents.pms.get(label.reviewer);
        if (!pm) throw new Error(`no agent for seat ${label.reviewer}`);
        const target = anonymize(label, pitchOf.get(label.target_seat) as PmPitch);
        const result = await pm.review(weekCtx, target, pitchOf.get(label.reviewer) ?? null, { signal });
        const review = parseAgentOutput('review', PeerReview, result.output);
        if (review.pitch_id !== label.pitch_id)
          throw new InvalidOutputError(`invalid review: pitch_id "${review.pitch_id}", expected "${label.pitch_id}"`);
        return { review, usage: result.usage, raw: result.raw };
      },
      {
        concurrency: ctx.config.models.council.concurrency,
        deadlineMs: ctx.config.models.council.call_deadline_seconds * 1000,
        signal: ctx.signal,
      },
    );

    const entries: ReviewEntry[] = [];
    const raw: RawRecord[] = [];
    for (const o of outcomes) {
      const label = byKey.get(o.seat) as LabelAssignment;
      if (o.ok) {
        entries.push({ ...label, status: 'ok', review: o.value.review, usage: o.value.usage });
        raw.push(...rawRecord(`${label.reviewer}-on-${label.pitch_id}`, o.value.raw));
      } else {
        entries.push({ ...label, status: 'failed', review: null, error: o.error, usage: ZERO_USAGE });
      }
    }
    // A reviewer counts toward the quorum when all of its reviews are valid.
    const reviewerOutcomes: SeatOutcome<null>[] = authors.map((reviewer) => {
      const own = outcomes.filter((o) => byKey.get(o.seat)?.reviewer === reviewer);
      const ms = Math.max(0, ...own.map((o) => o.ms));
      const failures = own.filter((o) => !o.ok).map((o) => `${byKey.get(o.seat)?.pitch_id}: ${o.ok ? '' : o.error}`);
      return failures.length === 0
        ? { seat: reviewer, ok: true, value: null, ms }
        : { seat: reviewer, ok: false, error: failures.join('; '), ms };
    });
    for (const o of reviewerOutcomes) {
      const count = entries.filter((e) => e.reviewer === o.seat && e.status === 'ok').length;
      ctx.progress({
        type: 'seat_finished',
        week_id: ctx.week.week_id,
        stage: 'peer_review',
        seat: o.seat,
        ok: o.ok,
        ms: o.ms,
        detail: o.ok ? `${count} reviews` : o.error,
      });
    }
    requireQuorum('peer_review', reviewerOutcomes, Math.min(ctx.config.models.council.quorum, authors.length));
    const records = entries.flatMap((e) => (e.status === 'ok' && e.review ? [{ ...e, review: e.review }] : []));
    const aggregate = aggregateReviews(authors, records);
    const leader = [...aggregate].sort((a, b) => (b.mean_score ?? 0) - (a.mean_score ?? 0))[0];
    const reviewersOk = reviewerOutcomes.filter((o) => o.ok).length;
    return {
      output: { seed, labels, reviews: entries, aggregate },
      raw,
      summary: `${records.length} reviews by ${reviewersOk} reviewers; top: ${leader?.seat ?? '-'} (mean score ${leader?.mean_score ?? '-'})`,
    };
  },
  async clear(tx, run) {
    await tx.delete(reviewLabels).where(ofRun(reviewLabels, run));
    await tx.delete(reviews).where(ofRun(reviews, run));
    await tx.delete(aggregates).where(ofRun(aggregates, run));
  },
  async persist(tx, run, output) {
    // One statement per table, its rows as one JSON parameter (storage/bulk-insert.ts).
    await insertRows(
      tx,
      reviewLabels,
      output.labels.map((l) => ({ ...run, reviewer: l.reviewer, pitchId: l.pitch_id, targetSeat: l.target_seat })),
    );
    await insertRows(
      tx,
      reviews,
      output.reviews.map((r) => ({
        ...run,
        reviewer: r.reviewer,
        pitchId: r.pitch_id,
        targetSeat: r.target_seat,
        status: r.status,
        meanScore: r.review ? meanScore(r.review) : null,
        review: r.review,
        error: r.error ?? null,
      })),
    );
    await insertRows(
      tx,
      aggregates,
      output.aggregate.map((a) => ({
        ...run,
        seat: a.seat,
        meanRank: a.mean_rank,
        meanScore: a.mean_score,
        votes: a.votes,
        reviewCount: a.review_count,
        rubricMeans: a.rubric_means,
      })),
    );
  },
};

/** What a reviewer sees: the label and the pitch without its model name. */
function anonymize(label: LabelAssignment, pitch: PmPitch): AnonymizedPitch {
  const { pm_model: _hidden, ...rest } = pitch;
  return { pitch_id: label.pitch_id, pitch: rest };
}

const seedOfRun = reusableRows({ seed: runs.seed }, (db, $: Slots<RunKey>, fields) => db.select(fields).from(runs).where(ofRun(runs, $)));

/** The shuffle seed was recorded with the run before any stage ran (see runWeek). */
async function reviewSeed(ctx: PipelineContext): Promise<string> {
  const [run] = await seedOfRun(ctx.store.db, { portfolio: ctx.portfolio, weekId: ctx.week.week_id });
  if (!run) throw new Error(`no run row for week ${ctx.week.week_id}`);
  return run.seed;
}
