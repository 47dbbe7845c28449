import { describe, expect, it } from 'vitest';
import { sampleContext, sampleSnapshot, sampleUniverse, withAsset } from '../../pm/offline/fixtures.js';
import { ResearchPack } from '../../schemas/index.js';
import { nextTradingDays } from './event-calendar.js';
import { OFFLINE_RESEARCH_SOURCE, OfflineResearcher, buildResearchPack } from './macro-snapshot-researcher.js';
import { deriveRegime } from './regime.js';

const opts = { signal: new AbortController().signal };

describe('OfflineResearcher', () => {
  it('emits a valid research pack labelled as offline, with zero usage', async () => {
    const result = await new OfflineResearcher().research(sampleContext(), opts);
    expect(() => ResearchPack.parse(result.output)).not.toThrow();
    expect(result.output.research_source).toBe(OFFLINE_RESEARCH_SOURCE);
    expect(result.output.research_source).toBe('offline/macro-snapshot (deterministic, no LLM)');
    expect(result.provider).toBe('offline');
    expect(result.model).toBe('offline/macro-snapshot');
    expect(result.usage).toEqual({ calls: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 });
    expect(result.raw).toBeNull(); // no answer text: the output is the record
    expect(result.output.week_id).toBe('2025-06-25');
    expect(result.output.citations).toEqual([
      { source: 'bundled daily bars (Yahoo Finance via data/etf-daily)', url: null, note: 'data through 2025-06-24' },
    ]);
  });

  it('is deterministic: the same context gives byte-identical output', async () => {
    const a = await new OfflineResearcher().research(sampleContext(), opts);
    const b = await new OfflineResearcher().research(sampleContext(), opts);
    expect(JSON.stringify(b.output)).toBe(JSON.stringify(a.output));
  });

  it('refuses an already aborted call', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await expect(new OfflineResearcher().research(sampleContext(), { signal: controller.signal })).rejects.toThrow('deadline');
  });

  it('reads the fixture week as risk-on with falling rates and a falling dollar', () => {
    const regime = deriveRegime(sampleSnapshot());
    expect(regime).toMatchObject({ risk_mode: 'RISK_ON', rates_impulse: 'FALLING', usd_impulse: 'FALLING', growth_impulse: 'RISING' });
    // USO is +8.7% on the month but -7.1% on the week: a fading move is not an inflation impulse.
    expect(regime.inflation_impulse).toBe('STABLE');
    expect(regime.summary).toContain('TLT 1m +3.9%');
    expect(regime.summary).toContain('UUP 1m -1.5%');
  });

  it('treats falling bond prices as RISING rates', () => {
    let snap = withAsset(sampleSnapshot(), 'TLT', { returns: { d1: -0.01, w1: -0.02, m1: -0.045, m3: -0.06 } });
    snap = withAsset(snap, 'IEF', { returns: { d1: -0.004, w1: -0.008, m1: -0.018, m3: -0.02 } });
    expect(deriveRegime(snap).rates_impulse).toBe('RISING');
    // Long end up, belly down: a curve twist is MIXED.
    const twist = withAsset(sampleSnapshot(), 'IEF', { returns: { d1: -0.004, w1: -0.008, m1: -0.018, m3: -0.02 } });
    expect(deriveRegime(twist).rates_impulse).toBe('MIXED');
  });

  it('reads broken equity trends with weak credit as RISK_OFF', () => {
    let snap = sampleSnapshot();
    for (const t of ['SPY', 'QQQ', 'IWM']) {
      const a = snap.assets.find((x) => x.ticker === t);
      if (!a) throw new Error(t);
      snap = withAsset(snap, t, { last_close: Math.min(a.sma_50 ?? 0, a.sma_200 ?? 0) * 0.97 });
    }
    snap = withAsset(snap, 'HYG', { last_close: 78.1, returns: { d1: -0.004, w1: -0.015, m1: -0.03, m3: -0.02 } });
    expect(deriveRegime(snap).risk_mode).toBe('RISK_OFF');
  });

  it('gives one neutral, scenario-conditional setup per universe ticker, in universe order', () => {
    const pack = buildResearchPack(sampleContext());
    expect(pack.asset_setups.map((s) => s.ticker)).toEqual(sampleUniverse().map((a) => a.ticker));
    const forbidden = /\b(long|short|buy|buying|sell|selling|overweight|underweight)\b/i;
    for (const setup of pack.asset_setups) {
      for (const text of [setup.context, setup.bull_case_if, setup.bear_case_if]) expect(text).not.toMatch(forbidden);
      expect(setup.bull_case_if).toMatch(/^Upside scenario if /);
      expect(setup.bear_case_if).toMatch(/^Downside scenario if /);
    }
  });

  it('takes key levels from the snapshot only', () => {
    const snap = sampleSnapshot();
    const pack = buildResearchPack(sampleContext(snap));
    for (const setup of pack.asset_setups) {
      const a = snap.assets.find((x) => x.ticker === setup.ticker);
      if (!a) throw new Error(setup.ticker);
      const expected = new Map<string, number>([
        ['SMA20', a.sma_20 as number],
        ['SMA50', a.sma_50 as number],
        ['SMA200', a.sma_200 as number],
        ['52w high', a.last_close / (1 + (a.pct_from_52w_high as number))],
        ['52w low', a.last_close / (1 + (a.pct_from_52w_low as number))],
      ]);
      expect(setup.key_levels.map((l) => l.name)).toEqual([...expected.keys()]);
      for (const level of setup.key_levels) expect(level.value).toBeCloseTo(expected.get(level.name) as number, 2);
      // The context cites the snapshot's own numbers.
      expect(setup.context).toContain(a.last_close.toFixed(2));
      expect(setup.context).toContain(`RSI(14) ${(a.rsi_14 as number).toFixed(1)}`);
    }
  });

  it('cites snapshot numbers in 3-5 narratives', () => {
    const pack = buildResearchPack(sampleContext());
    expect(pack.top_narratives.length).toBeGreaterThanOrEqual(3);
    expect(pack.top_narratives.length).toBeLessThanOrEqual(5);
    for (const n of pack.top_narratives) expect(n).toMatch(/\d/);
    expect(pack.top_narratives.join(' ')).toContain('SPY 606.78');
  });

  it('lists recurring events only within the next 7 trading days, labelled as typical', () => {
    const pack = buildResearchPack(sampleContext());
    const window = nextTradingDays('2025-06-24', 7);
    expect(window).toEqual(['2025-06-25', '2025-06-26', '2025-06-27', '2025-06-30', '2025-07-01', '2025-07-02', '2025-07-03']);
    expect(pack.event_calendar.length).toBeGreaterThan(0);
    for (const e of pack.event_calendar) {
      expect(window).toContain(e.date);
      expect(e.event).toContain('scheduled (typical), verify');
    }
    const dated = pack.event_calendar.map((e) => `${e.date} ${e.event}`);
    // July 4 2025 is a Friday holiday: the payrolls report moves to Thursday July 3.
    expect(dated.some((e) => e.startsWith('2025-07-03 US Employment Situation'))).toBe(true);
    expect(dated.some((e) => e.startsWith('2025-07-03 NYSE early close'))).toBe(true);
    expect(dated.some((e) => e.startsWith('2025-06-30 Quarter-end'))).toBe(true);
    expect(dated.some((e) => e.startsWith('2025-07-01 ISM Manufacturing'))).toBe(true);
    expect(dated.filter((e) => e.includes('initial jobless claims')).map((e) => e.slice(0, 10))).toEqual(['2025-06-26', '2025-07-03']);
  });
});
