import { PmPitch, pitchUniverseProblems } from '../../schemas/index.js';
import type { Tx } from '../../storage/db.js';
import { insertRows } from '../../storage/bulk-insert.js';
import { pitches } from '../../storage/schema.js';
import { ofRun } from '../../storage/run-key.js';
import { fanOut, requireQuorum } from '../fan-out.js';
import { rawRecord, ZERO_USAGE, type SeatPitch, type Stage } from '../stage.js';
import { InvalidOutputError, parseAgentOutput } from './validate.js';

/** Five PMs pitch in parallel; the stage needs a quorum of valid pitches. A failed seat is recorded, never traded. */
export const pmPitchesStage: Stage<'pm_pitches'> = {
  name: 'pm_pitches',
  inputs: ['snapshot', 'research'],
  async run(ctx) {
    const weekCtx = ctx.weekContext();
    const research = ctx.output('research').pack;
    const seats = ctx.config.pmSeats;
    const outcomes = await fanOut(
      seats,
      async (seat, signal) => {
        const pm = ctx.agents.pms.get(seat);
        if (!pm) throw new Error(`no agent for seat ${seat}`);
        const result = await pm.pitch(weekCtx, research, { signal });
        const pitch = parseAgentOutput('pitch', PmPitch, result.output);
        const problems = pitchUniverseProblems(pitch, ctx.config.tickers);
        if (problems.length > 0) throw new InvalidOutputError(`invalid pitch: ${problems.join('; ')}`);
        if (pitch.week_id !== ctx.week.week_id)
          throw new InvalidOutputError(`invalid pitch: week_id ${pitch.week_id}, expected ${ctx.week.week_id}`);
        return { ...result, output: pitch };
      },
      {
        concurrency: ctx.config.models.council.concurrency,
        deadlineMs: ctx.config.models.council.call_deadline_seconds * 1000,
        signal: ctx.signal,
      },
    );
    const results: SeatPitch[] = outcomes.map((o) => {
      const assigned = ctx.agents.assignments.get(o.seat);
      ctx.progress({
        type: 'seat_finished',
        week_id: ctx.week.week_id,
        stage: 'pm_pitches',
        seat: o.seat,
        ok: o.ok,
        ms: o.ms,
        detail: o.ok
          ? `${o.value.output.selected_trade.direction} ${o.value.output.selected_trade.ticker} (conviction ${o.value.output.selected_trade.conviction})`
          : o.error,
      });
      return o.ok
        ? {
            seat: o.seat,
            provider: o.value.provider,
            model: o.value.model,
            status: 'ok',
            pitch: o.value.output,
            usage: o.value.usage,
            ms: o.ms,
          }
        : {
            seat: o.seat,
            provider: assigned?.provider ?? 'unknown',
            model: assigned?.model ?? 'unknown',
            status: 'failed',
            pitch: null,
            error: o.error,
            usage: ZERO_USAGE,
            ms: o.ms,
          };
    });
    requireQuorum('pm_pitches', outcomes, ctx.config.models.council.quorum);
    const ok = results.filter((r) => r.status === 'ok').length;
    return {
      output: { pitches: results },
      raw: outcomes.flatMap((o) => (o.ok ? rawRecord(o.seat, o.value.raw) : [])),
      summary: `${ok} of ${seats.length} pitches${
        ok < seats.length
          ? ` (failed: ${results
              .filter((r) => r.status === 'failed')
              .map((r) => r.seat)
              .join(', ')})`
          : ''
      }`,
    };
  },
  async clear(tx: Tx, run) {
    await tx.delete(pitches).where(ofRun(pitches, run));
  },
  async persist(tx, run, output) {
    await insertRows(
      tx,
      pitches,
      output.pitches.map((p) => ({
        ...run,
        seat: p.seat,
        provider: p.provider,
        model: p.model,
        status: p.status,
        pitch: p.pitch,
        error: p.error ?? null,
      })),
    );
  },
};
