/**
 * The offline council on real weeks of the bundled data (calm, crash, rate-shock and rally weeks):
 * every output must validate and keep the sign rule, whatever the market did. The hand fixture
 * tests the logic; this guards against real-data edge cases (extreme vols, 50% oil moves).
 */
import { describe, expect, it } from 'vitest';
import { BundledMarketData } from '../../market/bundled-market-data.js';
import { etIso, previousTradingDay, tradingDayOnOrAfter } from '../../market/calendar.js';
import { buildSnapshot } from '../../market/snapshot.js';
import type { ReviewedPitch, WeekContext } from '../../ports/agents.js';
import { OfflineResearcher } from '../../research/offline/macro-snapshot-researcher.js';
import {
  ChairmanDecision,
  PeerReview,
  PmPitch,
  ResearchPack,
  convictionSignProblem,
  meanScore,
  pitchUniverseProblems,
} from '../../schemas/index.js';
import { sampleUniverse } from './fixtures.js';
import { OfflinePortfolioManager, PERSONA_NAMES } from './offline-pm.js';
import { OfflineChairman } from './peer-weighted-chairman.js';

const WEEKS = [
  '2011-08-10',
  '2013-06-26',
  '2015-08-26',
  '2018-02-07',
  '2020-03-18',
  '2020-11-11',
  '2022-06-15',
  '2023-10-25',
  '2024-08-07',
  '2025-04-09',
];
const opts = { signal: new AbortController().signal };
const universe = sampleUniverse();
const tickers = universe.map((a) => a.ticker);
const marketData = new BundledMarketData();

async function contextOf(weekId: string): Promise<WeekContext> {
  const fill = tradingDayOnOrAfter(weekId);
  const asof_et = etIso(fill, '08:00');
  const snapshot = await buildSnapshot({ week_id: weekId, asof_et, through: previousTradingDay(fill), universe, marketData });
  return { week_id: weekId, asof_et, universe, snapshot };
}

describe('offline council on real bundled weeks', () => {
  it.each(WEEKS)('%s: research, pitches, reviews and decision all validate', async (weekId) => {
    const ctx = await contextOf(weekId);
    const research = ResearchPack.parse((await new OfflineResearcher().research(ctx, opts)).output);
    const pms = PERSONA_NAMES.map((p) => new OfflinePortfolioManager(p, p));
    const pitches = await Promise.all(pms.map(async (pm) => PmPitch.parse((await pm.pitch(ctx, research, opts)).output)));
    for (const p of pitches) expect(pitchUniverseProblems(p, tickers)).toEqual([]);
    expect(new Set(pitches.map((p) => `${p.selected_trade.ticker} ${p.selected_trade.direction}`)).size).toBeGreaterThan(1);

    const reviewed: ReviewedPitch[] = [];
    for (const [t, pitch] of pitches.entries()) {
      const { pm_model: _m, ...visible } = pitch;
      const reviews: PeerReview[] = [];
      for (const [r, reviewer] of pms.entries()) {
        if (r === t) continue;
        reviews.push(
          PeerReview.parse((await reviewer.review(ctx, { pitch_id: 'Pitch A', pitch: visible }, pitches[r] ?? null, opts)).output),
        );
      }
      const mean = reviews.reduce((s, x) => s + meanScore(x), 0) / reviews.length;
      reviewed.push({
        seat: pitch.pm_model,
        model: pitch.pm_model,
        pitch_id: `P${t + 1}`,
        pitch,
        reviews,
        mean_rank: 0,
        mean_score: mean,
        votes: 0,
      });
    }
    const decision = ChairmanDecision.parse((await new OfflineChairman().decide(ctx, research, reviewed, opts)).output);
    expect(convictionSignProblem(decision.selected_trade.direction, decision.conviction)).toBeNull();
  });
});
