import { describe, expect, it } from 'vitest';
import type { AnonymizedPitch } from '../../ports/agents.js';
import { buildResearchPack } from '../../research/offline/macro-snapshot-researcher.js';
import { PeerReview, type PmPitch } from '../../schemas/index.js';
import { sampleContext } from './fixtures.js';
import { OfflinePortfolioManager, type PersonaName } from './offline-pm.js';
import { priceNumbers, spearman } from './review.js';

const opts = { signal: new AbortController().signal };
/** Seats as in config/models.yaml. */
const SEATS: Record<string, PersonaName> = {
  gpt: 'trend',
  gemini: 'macro-regime',
  sonnet: 'mean-reversion',
  grok: 'contrarian',
  deepseek: 'defensive-carry',
};

const ctx = sampleContext();
const research = buildResearchPack(ctx);
const pms = Object.entries(SEATS).map(([seat, persona]) => new OfflinePortfolioManager(seat, persona));
const pitches = new Map<string, PmPitch>();
for (const pm of pms) pitches.set(pm.seat, (await pm.pitch(ctx, research, opts)).output);

function anonymize(pitch: PmPitch, label: string): AnonymizedPitch {
  const { pm_model: _model, ...rest } = pitch;
  return { pitch_id: label, pitch: rest };
}

function pm(seat: string): OfflinePortfolioManager {
  const found = pms.find((p) => p.seat === seat);
  if (!found) throw new Error(seat);
  return found;
}

function pitchOf(seat: string): PmPitch {
  const p = pitches.get(seat);
  if (!p) throw new Error(seat);
  return structuredClone(p);
}

async function review(reviewer: string, target: PmPitch, label = 'Pitch C'): Promise<PeerReview> {
  return (await pm(reviewer).review(ctx, anonymize(target, label), pitchOf(reviewer), opts)).output;
}

describe('OfflinePortfolioManager.review', () => {
  it('reviews every other pitch with the full rubric, anonymously', async () => {
    for (const reviewer of pms) {
      for (const target of pms) {
        if (target === reviewer) continue;
        const result = await reviewer.review(ctx, anonymize(pitchOf(target.seat), 'Pitch B'), pitchOf(reviewer.seat), opts);
        const r = result.output;
        expect(() => PeerReview.parse(r)).not.toThrow();
        expect(r.pitch_id).toBe('Pitch B');
        expect(r.reviewer_model).toBe(reviewer.model);
        expect(result.model).toBe(reviewer.model);
        const text = JSON.stringify(r).toLowerCase();
        expect(text).not.toContain(target.model);
        expect(text).not.toContain(target.seat);
        // Numbers, not adjectives: the kill shot and the flip condition are checkable.
        expect(r.kill_shot).toMatch(/\d+\.\d{2}/);
        expect(r.one_flip_condition).toMatch(/\d+\.\d{2}/);
      }
    }
  });

  it('is deterministic', async () => {
    const a = await pm('gpt').review(ctx, anonymize(pitchOf('sonnet'), 'Pitch A'), pitchOf('gpt'), opts);
    const b = await pm('gpt').review(sampleContext(), anonymize(pitchOf('sonnet'), 'Pitch A'), pitchOf('gpt'), opts);
    expect(JSON.stringify(b.output)).toBe(JSON.stringify(a.output));
  });

  it('works without its own pitch (recomputes its view from the snapshot)', async () => {
    const r = (await pm('gpt').review(ctx, anonymize(pitchOf('gemini'), 'Pitch A'), null, opts)).output;
    expect(() => PeerReview.parse(r)).not.toThrow();
  });

  it('scores ranking_quality by rank correlation with its own ranking', async () => {
    const own = pitchOf('gpt');
    const same = pitchOf('sonnet');
    same.instrument_ranking = own.instrument_ranking.map((r) => ({ ...r }));
    const reversed = pitchOf('sonnet');
    reversed.instrument_ranking = own.instrument_ranking.map((r) => ({ ...r, rank: 11 - r.rank }));
    expect((await review('gpt', same)).scores.ranking_quality).toBe(10);
    expect((await review('gpt', reversed)).scores.ranking_quality).toBe(1);
  });

  it('flags a trade picked outside the pitch’s own top 3', async () => {
    const target = pitchOf('gemini');
    const eighth = target.instrument_ranking.find((r) => r.rank === 8);
    if (!eighth) throw new Error('no rank 8');
    target.selected_trade.ticker = eighth.ticker;
    target.selected_trade.thesis_bullets = ['Feels right.', 'Gut call.'];
    const r = await review('gpt', target);
    expect(r.scores.ranking_trade_alignment).toBe(2);
    expect(r.trade_choice_assessment.consistency_with_ranking).toBe('INCONSISTENT_UNJUSTIFIED');
    expect(r.ranking_assessment.missing_logic_flags.some((f) => f.includes(`#8`))).toBe(true);
  });

  it('scores risk_definition on whether the invalidation names a level', async () => {
    const vague = pitchOf('gemini');
    vague.selected_trade.invalidation_rule_this_week = 'Exit if the macro story changes.';
    const rv = await review('gpt', vague);
    expect(rv.scores.risk_definition).toBe(3);
    expect(rv.ranking_assessment.missing_logic_flags).toContain('invalidation rule names no price or indicator level');
    const precise = await review('gpt', pitchOf('gemini'));
    expect(precise.scores.risk_definition).toBeGreaterThanOrEqual(7);
    expect(precise.trade_choice_assessment.invalidation_quality).toMatch(/ATR/);
  });

  it('checks that cited indicators exist and match the snapshot', async () => {
    const made_up = pitchOf('gemini');
    made_up.monitoring_plan.key_indicators = [
      { name: 'vibes', expected_signal: 'good', flip_condition: 'bad' },
      { name: 'QQQ close vs SMA20 512.00', expected_signal: 'above', flip_condition: 'below 512.00' },
    ];
    const r = await review('gpt', made_up);
    const honest = await review('gpt', pitchOf('gemini'));
    expect(r.scores.indicator_integrity).toBeLessThan(honest.scores.indicator_integrity);
    expect(r.ranking_assessment.missing_logic_flags).toContain('cites QQQ SMA20 512.00 but the snapshot has 528.09');
  });

  it('rates tradeability from the instrument’s ATR%', async () => {
    const oil = pitchOf('gpt');
    oil.selected_trade.ticker = 'USO'; // ATR 3.9% of price
    const credit = pitchOf('gpt'); // HYG, ATR 0.35%
    const ro = await review('sonnet', oil);
    const rc = await review('sonnet', credit);
    expect(ro.scores.tradeability).toBe(4);
    expect(rc.scores.tradeability).toBe(9);
  });

  it('finds less originality in its own trade', async () => {
    // The mean-reversion and contrarian seats both pick UUP LONG on the fixture.
    expect(pitchOf('sonnet').selected_trade).toMatchObject({ ticker: 'UUP', direction: 'LONG' });
    expect(pitchOf('grok').selected_trade).toMatchObject({ ticker: 'UUP', direction: 'LONG' });
    expect((await review('sonnet', pitchOf('grok'))).scores.originality).toBe(3);
    expect((await review('sonnet', pitchOf('gpt'))).scores.originality).toBe(8);
  });

  it('judges edge from its own view: a momentum reviewer doubts a LONG on its last-ranked asset', async () => {
    const r = await review('gpt', pitchOf('sonnet')); // UUP is last in the trend ranking
    expect(r.scores.edge_plausibility).toBe(2);
    expect(r.trade_choice_assessment.justification_quality).toContain('#10 of 10');
    expect(r.ranking_assessment.missing_logic_flags).toContain('LONG UUP below its SMA200 28.70');
  });
});

describe('review helpers', () => {
  it('computes Spearman correlation', () => {
    const a = new Map([
      ['A', 1],
      ['B', 2],
      ['C', 3],
      ['D', 4],
    ]);
    expect(spearman(a, a)).toBe(1);
    expect(
      spearman(
        a,
        new Map([
          ['A', 4],
          ['B', 3],
          ['C', 2],
          ['D', 1],
        ]),
      ),
    ).toBe(-1);
    expect(
      spearman(
        a,
        new Map([
          ['A', 2],
          ['B', 1],
          ['C', 3],
          ['D', 4],
        ]),
      ),
    ).toBeCloseTo(0.8, 10);
  });

  it('extracts price levels, not percentages, periods or ATR multiples', () => {
    expect(priceNumbers('Exit if UUP closes below the 1.5 ATR stop at 26.90 (-0.9% from the 27.15 close) or RSI(14) below 33.')).toEqual([
      26.9, 27.15, 33,
    ]);
    expect(priceNumbers('close below SMA20 at 596.95.')).toEqual([596.95]);
  });
});
