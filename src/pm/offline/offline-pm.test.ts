import { describe, expect, it } from 'vitest';
import type { AssetSnapshot, MarketSnapshot } from '../../market/types.js';
import { buildResearchPack } from '../../research/offline/macro-snapshot-researcher.js';
import { PmPitch, pitchUniverseProblems } from '../../schemas/index.js';
import { sampleContext, sampleSnapshot, sampleUniverse, withAsset } from './fixtures.js';
import { OfflinePortfolioManager, PERSONAS, PERSONA_NAMES, type PersonaName } from './offline-pm.js';

const opts = { signal: new AbortController().signal };
const tickers = sampleUniverse().map((a) => a.ticker);

async function pitchOf(persona: PersonaName, snapshot: MarketSnapshot = sampleSnapshot()): Promise<PmPitch> {
  const ctx = sampleContext(snapshot);
  const research = buildResearchPack(ctx);
  return (await new OfflinePortfolioManager(`seat-${persona}`, persona).pitch(ctx, research, opts)).output;
}

/** The ways a snapshot value may be written in a text, computed independently of the agents. */
function citations(a: AssetSnapshot): string[] {
  const p = (x: number | null): string | null => (x === null ? null : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
  const values = [
    a.last_close.toFixed(2),
    a.sma_20?.toFixed(2),
    a.sma_50?.toFixed(2),
    a.sma_200?.toFixed(2),
    a.rsi_14?.toFixed(1),
    a.atr_14?.toFixed(2),
    p(a.returns.m1),
    p(a.returns.m3),
    p(a.returns.w1),
    a.realized_vol_20d === null ? null : `${(a.realized_vol_20d * 100).toFixed(1)}%`,
  ];
  return values.filter((v): v is string => typeof v === 'string');
}

describe('OfflinePortfolioManager.pitch', () => {
  it.each(PERSONA_NAMES)('%s: a valid pitch ranking the whole universe once', async (persona) => {
    const pitch = await pitchOf(persona);
    expect(() => PmPitch.parse(pitch)).not.toThrow();
    expect(pitchUniverseProblems(pitch, tickers)).toEqual([]);
    expect(pitch.pm_model).toBe(`offline/${persona}`);
    expect(pitch.instrument_ranking.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(pitch.instrument_ranking.find((r) => r.ticker === 'SPY')?.expected_outperformance_bucket_vs_spy).toBe('FLAT');
    expect(pitch.selected_trade.thesis_bullets.length).toBeGreaterThanOrEqual(2);
    expect(pitch.selected_trade.thesis_bullets.length).toBeLessThanOrEqual(6);
    expect(pitch.selected_trade.entry_plan).toMatchObject({ order_type: 'MARKET', timing: 'MOO' });
    expect(pitch.monitoring_plan.checkpoints_et).toEqual(['09:00', '12:00', '14:00', '15:50']);
    expect(pitch.monitoring_plan.key_indicators.length).toBeGreaterThanOrEqual(1);
    expect(pitch.monitoring_plan.key_indicators.length).toBeLessThanOrEqual(8);
  });

  it.each(PERSONA_NAMES)('%s: reasons and thesis cite numbers present in the snapshot', async (persona) => {
    const snap = sampleSnapshot();
    const pitch = await pitchOf(persona, snap);
    for (const row of pitch.instrument_ranking) {
      const a = snap.assets.find((x) => x.ticker === row.ticker) as AssetSnapshot;
      const cited = citations(a).filter((c) => row.reason.includes(c));
      expect(cited.length, `${persona} ${row.ticker}: ${row.reason}`).toBeGreaterThanOrEqual(1);
    }
    const selected = snap.assets.find((x) => x.ticker === pitch.selected_trade.ticker) as AssetSnapshot;
    const thesis = pitch.selected_trade.thesis_bullets.join(' ');
    expect(citations(selected).some((c) => thesis.includes(c))).toBe(true);
  });

  it.each(PERSONA_NAMES)('%s: the invalidation rule names a level taken from the snapshot', async (persona) => {
    const snap = sampleSnapshot();
    const pitch = await pitchOf(persona, snap);
    const rule = pitch.selected_trade.invalidation_rule_this_week;
    const a = snap.assets.find((x) => x.ticker === pitch.selected_trade.ticker) as AssetSnapshot;
    const atr = a.atr_14 as number;
    const derived = [
      a.sma_20,
      a.sma_50,
      a.sma_200,
      a.last_close / (1 + (a.pct_from_52w_high as number)),
      a.last_close / (1 + (a.pct_from_52w_low as number)),
      ...[1, 1.5, 2].flatMap((k) => [a.last_close - k * atr, a.last_close + k * atr]),
    ] as number[];
    const cited = [...rule.matchAll(/ at (\d+\.\d{2})/g)].map((m) => Number(m[1]));
    expect(cited.length, rule).toBeGreaterThan(0);
    expect(
      cited.some((c) => derived.some((v) => Math.abs(v - c) <= 0.006)),
      rule,
    ).toBe(true);
  });

  it('is deterministic: two runs are byte-identical', async () => {
    for (const persona of PERSONA_NAMES) {
      const ctx = sampleContext();
      const research = buildResearchPack(ctx);
      const pm = new OfflinePortfolioManager('seat', persona);
      const a = await pm.pitch(ctx, research, opts);
      const b = await pm.pitch(sampleContext(), buildResearchPack(sampleContext()), opts);
      expect(JSON.stringify(b.output)).toBe(JSON.stringify(a.output));
      expect(b.output).toEqual(a.output);
    }
  });

  it('gives the council real disagreement on the fixture week', async () => {
    const trades = await Promise.all(PERSONA_NAMES.map(async (p) => (await pitchOf(p)).selected_trade));
    const distinct = new Set(trades.map((t) => `${t.ticker} ${t.direction}`));
    expect(distinct.size).toBeGreaterThanOrEqual(3);
    // Spot-check the styles: momentum owns the calmest uptrend, the macro seat the regime's favourite.
    expect((await pitchOf('trend')).selected_trade.ticker).toBe('HYG');
    expect((await pitchOf('macro-regime')).selected_trade.ticker).toBe('QQQ');
    expect((await pitchOf('mean-reversion')).selected_trade.ticker).toBe('UUP');
  });

  it('never names its own persona or model in texts a reviewer sees', async () => {
    for (const persona of PERSONA_NAMES) {
      const { pm_model, ...visible } = await pitchOf(persona);
      expect(JSON.stringify(visible)).not.toContain(pm_model);
    }
  });

  it('reports the AgentResult of an offline seat and honours an aborted signal', async () => {
    const ctx = sampleContext();
    const pm = new OfflinePortfolioManager('gpt', 'trend');
    const result = await pm.pitch(ctx, buildResearchPack(ctx), opts);
    expect(result).toMatchObject({
      provider: 'offline',
      model: 'offline/trend',
      usage: { calls: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
    });
    expect(result.raw).toBeNull(); // no answer text: the output is the record
    expect(pm.seat).toBe('gpt');
    const controller = new AbortController();
    controller.abort();
    await expect(pm.pitch(ctx, buildResearchPack(ctx), { signal: controller.signal })).rejects.toThrow();
  });

  it('rejects an unknown persona', () => {
    expect(() => new OfflinePortfolioManager('gpt', 'momentum' as PersonaName)).toThrow(/unknown offline persona "momentum"/);
  });

  it('documents every persona in one line', () => {
    expect(Object.keys(PERSONAS).sort()).toEqual([...PERSONA_NAMES].sort());
    for (const line of Object.values(PERSONAS)) expect(line).not.toContain('\n');
  });
});

describe('persona rules', () => {
  it('defensive-carry goes FLAT when SPY vol is high and its trend is broken', async () => {
    const stressed = withAsset(sampleSnapshot(), 'SPY', { last_close: 565.2, realized_vol_20d: 0.27 });
    const pitch = await pitchOf('defensive-carry', stressed);
    expect(pitch.selected_trade.direction).toBe('FLAT');
    expect(pitch.selected_trade.conviction).toBe(0);
    expect(pitch.selected_trade.thesis_bullets[0]).toContain('27.0%');
    expect(pitch.selected_trade.invalidation_rule_this_week).toContain('574.96');
    // Calm equities: it takes the position.
    expect((await pitchOf('defensive-carry')).selected_trade.direction).toBe('LONG');
  });

  it('mean-reversion shorts an overbought extreme', async () => {
    const hot = withAsset(sampleSnapshot(), 'GLD', { last_close: 331.5, rsi_14: 81.3 });
    const pitch = await pitchOf('mean-reversion', hot);
    expect(pitch.selected_trade).toMatchObject({ ticker: 'GLD', direction: 'SHORT' });
    expect(pitch.selected_trade.conviction).toBeLessThan(0);
    expect(pitch.instrument_ranking.find((r) => r.ticker === 'GLD')?.rank).toBe(10);
    expect(pitch.selected_trade.thesis_bullets[0]).toContain('RSI 81.3');
    expect(pitch.selected_trade.entry_plan.notes).toContain('whole shares');
  });

  it('contrarian fades a crowded rally', async () => {
    const crowded = withAsset(sampleSnapshot(), 'GLD', {
      last_close: 335.2,
      rsi_14: 78.4,
      returns: { d1: 0.004, w1: -0.003, m1: 0.121, m3: 0.18 },
      pct_from_52w_low: 0.58,
      macd: { macd: 6.1, signal: 6.5, histogram: -0.4 },
    });
    const pitch = await pitchOf('contrarian', crowded);
    expect(pitch.selected_trade).toMatchObject({ ticker: 'GLD', direction: 'SHORT' });
    expect(pitch.selected_trade.invalidation_rule_this_week).toMatch(/closes above/);
  });

  it('keeps the conviction sign rule across scenarios', async () => {
    const scenarios = [
      sampleSnapshot(),
      withAsset(sampleSnapshot(), 'SPY', { last_close: 565.2, realized_vol_20d: 0.27 }),
      withAsset(sampleSnapshot(), 'GLD', { last_close: 331.5, rsi_14: 81.3 }),
    ];
    for (const snap of scenarios) {
      for (const persona of PERSONA_NAMES) {
        const t = (await pitchOf(persona, snap)).selected_trade;
        if (t.direction === 'LONG') expect(t.conviction).toBeGreaterThan(0);
        if (t.direction === 'SHORT') expect(t.conviction).toBeLessThan(0);
        if (t.direction === 'FLAT') expect(t.conviction).toBe(0);
      }
    }
  });

  it('scores a ticker missing from the snapshot as neutral and still ranks it', async () => {
    const snap = sampleSnapshot();
    const partial = { ...snap, assets: snap.assets.filter((a) => a.ticker !== 'USO') };
    const pitch = await pitchOf('trend', partial);
    expect(pitchUniverseProblems(pitch, tickers)).toEqual([]);
    expect(pitch.instrument_ranking.find((r) => r.ticker === 'USO')?.reason).toContain('no snapshot data');
  });
});
