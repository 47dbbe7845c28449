import { describe, expect, it } from 'vitest';
import { sampleSnapshot, withAsset } from '../pm/offline/fixtures.js';
import { formatMean, formatSnapshotTable } from './format.js';

describe('formatSnapshotTable', () => {
  it('is a Markdown table with one row per instrument and the levels a prompt may cite', () => {
    const lines = formatSnapshotTable(sampleSnapshot()).split('\n');
    expect(lines[0]).toBe(
      '| ticker | close | 1d | 1w | 1m | 3m | vol20d | RSI14 | MACD hist | ATR14 | SMA20 | SMA50 | SMA200 | 52w high | 52w low | corr SPY 60d |',
    );
    expect(lines).toHaveLength(2 + 10);
    // SPY: 52w high = 606.78 / (1 - 0.0105) = 613.22; low = 606.78 / 1.2594 = 481.80.
    expect(lines[2]).toBe(
      '| SPY | 606.78 | +1.1% | +1.0% | +4.4% | +6.0% | 12.1% | 63.4 | -0.924 | 7.22 (1.19%) | 596.95 | 574.96 | 580.39 | 613.22 | 481.80 | 1.00 |',
    );
  });

  it('prints n/a for unknown values and flags a stale row', () => {
    const snap = withAsset(sampleSnapshot(), 'USO', {
      last_date: '2025-06-20',
      sma_200: null,
      rsi_14: null,
      macd: null,
      atr_14: null,
      pct_from_52w_high: null,
      returns: { d1: null, w1: -0.0711, m1: 0.0873, m3: null },
    });
    const text = formatSnapshotTable(snap);
    expect(text).toContain(
      '| USO | 73.00 | n/a | -7.1% | +8.7% | n/a | 51.7% | n/a | n/a | n/a | 73.45 | 69.59 | n/a | n/a | 60.67 | 0.42 |',
    );
    expect(text.endsWith('Stale rows (last bar before 2025-06-24): USO 2025-06-20')).toBe(true);
  });
});

describe('formatMean', () => {
  it('formats finite means with fixed decimals and missing ones as n/a', () => {
    expect(formatMean(6.4567)).toBe('6.46');
    expect(formatMean(Number.NaN)).toBe('n/a');
    expect(formatMean(null)).toBe('n/a');
  });
});

describe('prompt JSON of agent outputs', () => {
  /** What a jsonb column gives back: the same values, object keys in another order (shortest first). */
  const reordered = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(reordered)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(
            Object.entries(value)
              .sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1))
              .map(([k, v]) => [k, reordered(v)]),
          )
        : value;

  it('renders the same prompts from a stage output read back from the database as from the fresh one', async () => {
    const { sampleWeek } = await import('../pm/llm/fixtures.js');
    const { chairmanVariables, peerReviewVariables, pmPitchVariables } = await import('./variables.js');
    const week = await sampleWeek();
    const pitch = week.pitches.get('gpt')!;
    const { pm_model: _author, ...anonymous } = pitch;
    const fresh = [
      pmPitchVariables(week.ctx, week.research),
      peerReviewVariables(week.ctx, { pitch_id: 'Pitch B', pitch: anonymous }, week.pitches.get('grok')!),
      chairmanVariables(week.ctx, week.research, week.reviewed),
    ];
    const stored = [
      pmPitchVariables(week.ctx, reordered(week.research) as typeof week.research),
      peerReviewVariables(
        week.ctx,
        { pitch_id: 'Pitch B', pitch: reordered(anonymous) as typeof anonymous },
        reordered(week.pitches.get('grok')!) as typeof pitch,
      ),
      chairmanVariables(week.ctx, reordered(week.research) as typeof week.research, reordered(week.reviewed) as typeof week.reviewed),
    ];
    expect(JSON.stringify(reordered(week.research))).not.toBe(JSON.stringify(week.research));
    expect(stored).toEqual(fresh);
    // The schema's order: what the model's validated answer has.
    expect(pmPitchVariables(week.ctx, week.research).research_json.startsWith('{"week_id":')).toBe(true);
  });
});
