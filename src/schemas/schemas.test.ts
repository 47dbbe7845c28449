import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChairmanDecision, PmPitch, PUBLISHED_SCHEMAS, pitchUniverseProblems } from './index.js';
import { renderJsonSchemaFile } from './json-schema.js';

const UNIVERSE = ['SPY', 'QQQ', 'IWM', 'TLT', 'IEF', 'HYG', 'LQD', 'UUP', 'GLD', 'USO'];

function pitch(overrides: Partial<{ direction: 'LONG' | 'SHORT' | 'FLAT'; conviction: number; ticker: string }> = {}) {
  return {
    week_id: '2024-03-06',
    asof_et: '2024-03-06T08:00:00-05:00',
    pm_model: 'offline/trend',
    instrument_ranking: UNIVERSE.map((ticker, i) => ({ ticker, rank: i + 1, expected_outperformance_bucket_vs_spy: 'FLAT', reason: 'r' })),
    selected_trade: {
      ticker: overrides.ticker ?? 'SPY',
      direction: overrides.direction ?? 'LONG',
      horizon: '1W',
      conviction: overrides.conviction ?? 1,
      thesis_bullets: ['a', 'b'],
      invalidation_rule_this_week: 'close below 500',
      invalidation_trigger: { ticker: 'SPY', measure: 'price', op: 'below', value: 500 },
      entry_plan: { order_type: 'MARKET', timing: 'MOO', notes: '' },
    },
    monitoring_plan: { checkpoints_et: ['09:00'], key_indicators: [{ name: 'RSI', expected_signal: 'up', flip_condition: '<30' }] },
  };
}

describe('generated JSON Schemas', () => {
  it.each(Object.keys(PUBLISHED_SCHEMAS))(
    'config/schemas/%s.schema.json matches the zod source (run `npm run schemas` after a change)',
    (name) => {
      const checkedIn = readFileSync(join(import.meta.dirname, '..', '..', 'config', 'schemas', `${name}.schema.json`), 'utf8');
      expect(checkedIn).toBe(renderJsonSchemaFile(name));
    },
  );

  it('declares JSON Schema 2020-12 with the fixed snake_case fields', () => {
    const schema = JSON.parse(renderJsonSchemaFile('pm_pitch_with_ranking'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(['week_id', 'asof_et', 'pm_model', 'instrument_ranking', 'selected_trade', 'monitoring_plan']);
  });
});

describe('rules JSON Schema cannot state', () => {
  it('accepts a sound pitch', () => {
    const parsed = PmPitch.parse(pitch());
    expect(pitchUniverseProblems(parsed, UNIVERSE)).toEqual([]);
  });

  it('enforces the conviction sign against the direction', () => {
    expect(PmPitch.safeParse(pitch({ direction: 'LONG', conviction: -1 })).error?.issues[0]?.message).toBe(
      'conviction must be > 0 for LONG, got -1',
    );
    expect(PmPitch.safeParse(pitch({ direction: 'SHORT', conviction: 2 })).error?.issues[0]?.message).toBe(
      'conviction must be < 0 for SHORT, got 2',
    );
    expect(PmPitch.safeParse(pitch({ direction: 'FLAT', conviction: 1 })).error?.issues[0]?.message).toBe(
      'conviction must be 0 for FLAT, got 1',
    );
    expect(PmPitch.safeParse(pitch({ direction: 'FLAT', conviction: 0 })).success).toBe(true);
    const decision = {
      week_id: '2024-03-06',
      asof_et: 'x'.repeat(10),
      selected_trade: { ticker: 'SPY', direction: 'SHORT', horizon: '1W' },
      conviction: 1,
      rationale: 'r',
      dissent_summary: [],
      monitoring_plan: { checkpoints_et: [], invalidation_triggers: [], key_indicators: [] },
    };
    expect(ChairmanDecision.safeParse(decision).success).toBe(false);
  });

  it('requires every universe ticker ranked exactly once with unique ranks 1..N', () => {
    const p = PmPitch.parse(pitch());
    const dup = { ...p, instrument_ranking: p.instrument_ranking.map((r, i) => (i === 1 ? { ...r, ticker: 'SPY' } : r)) };
    expect(pitchUniverseProblems(dup, UNIVERSE)).toEqual([
      'instrument_ranking: SPY is ranked more than once',
      'instrument_ranking: missing QQQ',
    ]);
    const sameRank = { ...p, instrument_ranking: p.instrument_ranking.map((r, i) => (i === 2 ? { ...r, rank: 1 } : r)) };
    expect(pitchUniverseProblems(sameRank, UNIVERSE)).toContain('instrument_ranking: rank 1 is given to both SPY and IWM');
    const outOfRange = { ...p, instrument_ranking: p.instrument_ranking.map((r, i) => (i === 9 ? { ...r, rank: 11 } : r)) };
    expect(pitchUniverseProblems(outOfRange, UNIVERSE)).toContain('instrument_ranking: USO has rank 11, expected 1..10');
    const foreign = PmPitch.parse(pitch({ ticker: 'TSLA' }));
    expect(pitchUniverseProblems(foreign, UNIVERSE)).toEqual(['selected_trade.ticker: TSLA is not in the universe']);
  });
});
