import { describe, expect, it } from 'vitest';
import type { ReviewedPitch, WeekContext } from '../../ports/agents.js';
import { buildResearchPack } from '../../research/offline/macro-snapshot-researcher.js';
import { ChairmanDecision, type PeerReview, type PmPitch, meanScore } from '../../schemas/index.js';
import { sampleContext } from './fixtures.js';
import { OfflinePortfolioManager, PERSONA_NAMES } from './offline-pm.js';
import { OFFLINE_CHAIRMAN_MODEL, OfflineChairman, decideCouncil } from './peer-weighted-chairman.js';

const opts = { signal: new AbortController().signal };

/** A whole offline council week: five pitches, every seat reviews the other four. */
async function council(ctx: WeekContext): Promise<ReviewedPitch[]> {
  const research = buildResearchPack(ctx);
  const pms = PERSONA_NAMES.map((persona, i) => new OfflinePortfolioManager(`seat${i + 1}`, persona));
  const pitches = await Promise.all(pms.map(async (pm) => (await pm.pitch(ctx, research, opts)).output));
  const received: PeerReview[][] = pitches.map(() => []);
  for (const [r, reviewer] of pms.entries()) {
    for (const [t, target] of pitches.entries()) {
      if (r === t) continue;
      const { pm_model: _m, ...visible } = target;
      received[t]?.push((await reviewer.review(ctx, { pitch_id: `Pitch ${t}`, pitch: visible }, pitches[r] ?? null, opts)).output);
    }
  }
  return pitches.map((pitch, i) => {
    const reviews = received[i] ?? [];
    return {
      seat: `seat${i + 1}`,
      model: pitch.pm_model,
      pitch_id: `P${i + 1}`,
      pitch,
      reviews,
      mean_rank: 0,
      mean_score: reviews.reduce((s, r) => s + meanScore(r), 0) / reviews.length,
      votes: 0,
    };
  });
}

/** A hand-made reviewed pitch: the fixture pitch with its trade replaced. */
function variant(base: ReviewedPitch, id: string, trade: Partial<PmPitch['selected_trade']>, meanScoreValue = 7): ReviewedPitch {
  const pitch = structuredClone(base.pitch);
  pitch.selected_trade = { ...pitch.selected_trade, ...trade };
  return { ...base, pitch_id: id, model: `offline/${id}`, seat: id, pitch, mean_score: meanScoreValue, votes: 0 };
}

const ctx = sampleContext();
const week = await council(ctx);

describe('OfflineChairman', () => {
  it('decides the fixture week with a valid, labelled decision', async () => {
    const result = await new OfflineChairman().decide(ctx, buildResearchPack(ctx), week, opts);
    const d = result.output;
    expect(() => ChairmanDecision.parse(d)).not.toThrow();
    expect(result).toMatchObject({ provider: 'offline', model: OFFLINE_CHAIRMAN_MODEL, usage: { calls: 0 } });
    expect(d.rationale.startsWith('[offline chairman]')).toBe(true);
    // Two seats (P2 mean-reversion, P5 contrarian) back UUP LONG: the largest weighted net.
    expect(d.selected_trade).toMatchObject({ ticker: 'UUP', direction: 'LONG' });
    expect(d.conviction).toBeGreaterThan(0);
    expect(d.rationale).toContain('P2 offline/mean-reversion');
    expect(d.rationale).toContain('P5 offline/contrarian');
    expect(d.rationale).toContain('UUP 27.15');
    expect(d.monitoring_plan.checkpoints_et).toEqual(['09:00', '12:00', '14:00', '15:50']);
    expect(d.monitoring_plan.invalidation_triggers.every((t) => /^P[25]: /.test(t))).toBe(true);
    expect(d.monitoring_plan.key_indicators.length).toBeGreaterThan(0);
  });

  it('lists exactly the disagreeing pitches as dissent, with concerns from the reviews', () => {
    const d = decideCouncil(ctx, week);
    const disagreeing = week
      .filter(
        (p) => p.pitch.selected_trade.ticker !== d.selected_trade.ticker || p.pitch.selected_trade.direction !== d.selected_trade.direction,
      )
      .map((p) => p.pitch_id);
    expect(d.dissent_summary.map((x) => x.pitch_id)).toEqual(disagreeing);
    expect(disagreeing).toEqual(['P1', 'P3', 'P4']);
    for (const entry of d.dissent_summary) {
      const p = week.find((x) => x.pitch_id === entry.pitch_id);
      expect(entry.model).toBe(p?.model);
      expect(p?.reviews.some((r) => entry.key_concern.includes(r.kill_shot))).toBe(true);
    }
  });

  it('is deterministic and independent of the order pitches arrive in', () => {
    const a = decideCouncil(ctx, week);
    expect(decideCouncil(ctx, [...week].reverse())).toEqual(a);
    expect(JSON.stringify(decideCouncil(sampleContext(), week))).toBe(JSON.stringify(a));
  });

  it('follows a unanimous council', () => {
    const base = week[0] as ReviewedPitch;
    const ids = ['P1', 'P2', 'P3', 'P4', 'P5'];
    const long = decideCouncil(
      ctx,
      ids.map((id) => variant(base, id, { ticker: 'TLT', direction: 'LONG', conviction: 2, horizon: '3D' })),
    );
    expect(long).toMatchObject({ selected_trade: { ticker: 'TLT', direction: 'LONG', horizon: '3D' }, conviction: 2, dissent_summary: [] });
    const short = decideCouncil(
      ctx,
      ids.map((id) => variant(base, id, { ticker: 'USO', direction: 'SHORT', conviction: -1, horizon: '1W' })),
    );
    expect(short).toMatchObject({ selected_trade: { ticker: 'USO', direction: 'SHORT' }, conviction: -1, dissent_summary: [] });
  });

  it('weights by peer score: a better-reviewed idea wins an otherwise even split', () => {
    const base = week[0] as ReviewedPitch;
    const d = decideCouncil(ctx, [
      variant(base, 'P1', { ticker: 'GLD', direction: 'LONG', conviction: 2 }, 8.5),
      variant(base, 'P2', { ticker: 'IEF', direction: 'LONG', conviction: 2 }, 5.0),
    ]);
    expect(d.selected_trade.ticker).toBe('GLD');
    expect(d.dissent_summary.map((x) => x.pitch_id)).toEqual(['P2']);
  });

  it('nets opposing views on one ticker and goes FLAT when too little is left', () => {
    const base = week[0] as ReviewedPitch;
    const d = decideCouncil(ctx, [
      variant(base, 'P1', { ticker: 'SPY', direction: 'LONG', conviction: 2 }),
      variant(base, 'P2', { ticker: 'SPY', direction: 'SHORT', conviction: -2 }),
      variant(base, 'P3', { ticker: 'GLD', direction: 'LONG', conviction: 1 }),
      variant(base, 'P4', { ticker: 'QQQ', direction: 'FLAT', conviction: 0 }),
      variant(base, 'P5', { ticker: 'IEF', direction: 'FLAT', conviction: 0 }),
    ]);
    // GLD leads with 1 of 5 equal weights = 0.2 of the council < 0.25: no majority for any trade.
    expect(d.selected_trade).toMatchObject({ ticker: 'GLD', direction: 'FLAT' });
    expect(d.conviction).toBe(0);
    expect(d.dissent_summary).toHaveLength(5);
  });

  it('caps a minority idea at conviction 1 and keeps the sign rule', () => {
    const base = week[0] as ReviewedPitch;
    const d = decideCouncil(ctx, [
      variant(base, 'P1', { ticker: 'IWM', direction: 'SHORT', conviction: -2 }),
      variant(base, 'P2', { ticker: 'GLD', direction: 'LONG', conviction: 1 }),
      variant(base, 'P3', { ticker: 'QQQ', direction: 'LONG', conviction: 1 }),
      variant(base, 'P4', { ticker: 'TLT', direction: 'LONG', conviction: 1 }),
      variant(base, 'P5', { ticker: 'HYG', direction: 'FLAT', conviction: 0 }),
    ]);
    expect(d.selected_trade).toMatchObject({ ticker: 'IWM', direction: 'SHORT' });
    expect(d.conviction).toBe(-1);
    expect(d.rationale).toContain('capped at 1');
  });

  it('stays FLAT with no pitches and honours an aborted signal', async () => {
    const d = decideCouncil(ctx, []);
    expect(d).toMatchObject({ selected_trade: { direction: 'FLAT' }, conviction: 0, dissent_summary: [] });
    const controller = new AbortController();
    controller.abort();
    await expect(new OfflineChairman().decide(ctx, buildResearchPack(ctx), week, { signal: controller.signal })).rejects.toThrow();
  });
});
