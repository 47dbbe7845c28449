import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { contaminationOf, contaminationWarning, seatKnowledge, weeksContamination } from './contamination.js';

const config = loadConfig();
/** Every seat on its configured LLM (the shipped cutoffs), as a run on Requesty + Perplexity assigns them. */
const online = new Map(
  Object.entries(config.models.seats).map(([seat, s]) => [
    seat,
    { provider: s.role === 'researcher' ? 'perplexity' : 'requesty', model: (s.models.perplexity ?? s.models.requesty) as string },
  ]),
);
const offline = new Map(
  Object.entries(config.models.seats).map(([seat, s]) => [seat, { provider: 'offline', model: `offline/${s.offline}` }]),
);
const week = (decision: string, weekId = decision) => ({ week_id: weekId, asof_et: `${decision}T08:00:00-05:00` });

describe('knowledge-cutoff contamination', () => {
  it('reads each seat’s cutoff from config/models.yaml; offline personas have none', () => {
    expect(seatKnowledge(config, online).map((s) => [s.seat, s.kind, s.knowledge_cutoff])).toEqual([
      ['researcher', 'web', 'web'],
      ['gpt', 'cutoff', '2024-09-30'],
      ['gemini', 'cutoff', '2025-01-31'],
      ['sonnet', 'cutoff', '2025-07-31'],
      ['grok', 'cutoff', '2024-11-30'],
      ['deepseek', 'cutoff', '2024-07-31'],
      ['chairman', 'cutoff', '2025-08-31'],
    ]);
    expect(seatKnowledge(config, offline).every((s) => s.kind === 'offline' && s.knowledge_cutoff === null)).toBe(true);
  });

  it('marks a week contaminated for a seat when the decision day is on or before its cutoff, and for the council when any seat is', () => {
    const seats = seatKnowledge(config, new Map([...offline, ['gpt', online.get('gpt')!], ['deepseek', online.get('deepseek')!]]));
    const c = weeksContamination([week('2024-07-31'), week('2024-08-07'), week('2024-09-25'), week('2024-10-02')], seats, '2026-01-01');
    expect(c.weeks).toEqual([
      { week_id: '2024-07-31', decision_date: '2024-07-31', contaminated: true, seats: ['gpt', 'deepseek'] },
      { week_id: '2024-08-07', decision_date: '2024-08-07', contaminated: true, seats: ['gpt'] },
      { week_id: '2024-09-25', decision_date: '2024-09-25', contaminated: true, seats: ['gpt'] },
      { week_id: '2024-10-02', decision_date: '2024-10-02', contaminated: false, seats: [] },
    ]);
    // No seat searches the web: the result does not depend on the day it is computed.
    expect(c).toMatchObject({ clean_weeks: 1, contaminated_weeks: 3, as_of: null });
  });

  it('uses the decision day, not the week id (a Wednesday holiday decides on Thursday)', () => {
    const seats = seatKnowledge(config, new Map([...offline, ['gpt', online.get('gpt')!]]));
    // Decided on the Thursday after the cutoff: clean, although the week id is on the cutoff.
    expect(weeksContamination([week('2024-10-01', '2024-09-30')], seats, '2026-01-01').weeks[0]).toMatchObject({ contaminated: false });
  });

  it('a web-searching seat contaminates every week up to the day the backtest runs; an LLM seat without a cutoff every week', () => {
    const withoutCutoff = { ...config, models: { ...config.models, seats: { ...config.models.seats } } };
    const { knowledge_cutoff: _dropped, ...grok } = config.models.seats.grok!;
    withoutCutoff.models.seats.grok = grok;
    const seats = seatKnowledge(
      withoutCutoff,
      new Map([...offline, ['researcher', online.get('researcher')!], ['grok', online.get('grok')!]]),
    );
    expect(seats.find((s) => s.seat === 'grok')).toMatchObject({ kind: 'unknown', knowledge_cutoff: null });
    const c = weeksContamination([week('2030-01-02'), week('2031-01-01')], seats, '2030-06-01');
    expect(c.weeks.map((w) => w.seats)).toEqual([['researcher', 'grok'], ['grok']]);
    expect(c.as_of).toBe('2030-06-01');
  });

  it('warns with the count and each seat with its cutoff and weeks; says nothing when every week is clean', () => {
    const weeks = [week('2024-09-25'), week('2024-10-02')];
    const warning = contaminationWarning(contaminationOf({ config, agents: { assignments: online } }, weeks, '2026-01-01'));
    expect(warning).toMatch(/^warning: 2 of 2 weeks are contaminated: their decision day is on or before a seat's knowledge cutoff/);
    expect(warning).toContain('no week is clean');
    expect(warning).toContain('  researcher (sonar-deep-research, searches the web): 2 weeks\n');
    expect(warning).toContain('  gpt (openai/gpt-5.1, cutoff 2024-09-30): 1 week\n');
    // DeepSeek's cutoff is before both decision days: it contaminates neither.
    expect(warning).not.toContain('deepseek');
    expect(contaminationWarning(contaminationOf({ config, agents: { assignments: offline } }, weeks))).toBe('');
  });
});
