/**
 * Every shipped template renders with realistic variables into [system, user], with the week's data
 * only in the user message (so the system prefix is cacheable) and the JSON Schema last.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../ports/llm.js';
import { sampleWeek, SEATS, type SampleWeek } from '../pm/llm/fixtures.js';
import { RUBRIC } from '../schemas/peer-review.js';
import { toJsonSchema } from '../schemas/json-schema.js';
import { compactJson } from './format.js';
import { promptsDir, renderPrompt } from './render.js';
import {
  PROMPTS,
  checkpointVariables,
  chairmanVariables,
  peerReviewVariables,
  pmPitchVariables,
  researchVariables,
  type CheckpointPromptInput,
} from './variables.js';

let week: SampleWeek;
beforeAll(async () => {
  week = await sampleWeek();
});

/** Values that change every week: none may appear in a system message. */
function weeklyFacts(w: SampleWeek): string[] {
  const s = w.ctx.snapshot;
  return [
    w.ctx.week_id,
    w.ctx.asof_et,
    s.data_through,
    '2025-06',
    ...s.assets.flatMap((a) => [
      a.last_close.toFixed(2),
      a.sma_20?.toFixed(2) ?? '',
      a.sma_200?.toFixed(2) ?? '',
      a.rsi_14?.toFixed(1) ?? '',
    ]),
  ].filter((f) => f !== '');
}

function expectCachingOrder(messages: ChatMessage[], schemaName: string, facts: readonly string[]): void {
  expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
  const [system, user] = messages as [ChatMessage, ChatMessage];
  for (const fact of facts) expect(system.content, `system message contains "${fact}"`).not.toContain(fact);
  expect(system.content).not.toMatch(/\d{4}-\d{2}-\d{2}/);
  // The schema reminder closes the user message.
  expect(user.content.endsWith(compactJson(toJsonSchema(schemaName)))).toBe(true);
  // Nothing is left unrendered.
  for (const m of messages) expect(m.content).not.toMatch(/\{\{|\{%|<!-- (system|user) -->/);
}

function snapshotFactsIn(text: string, w: SampleWeek): void {
  expect(text).toContain(`week_id: ${w.ctx.week_id}`);
  expect(text).toContain(`asof_et: ${w.ctx.asof_et}`);
  for (const a of w.ctx.snapshot.assets) expect(text).toContain(`| ${a.ticker} | ${a.last_close.toFixed(2)} |`);
}

describe('weekly_research_prompt_v1_5', () => {
  it('asks for a neutral, level-safe research pack; the week and snapshot only in the user message', () => {
    const messages = renderPrompt(PROMPTS.research, researchVariables(week.ctx));
    expectCachingOrder(messages, 'research_pack', weeklyFacts(week));
    const [system, user] = messages.map((m) => m.content) as [string, string];
    expect(system).toContain('No invented price levels');
    expect(system).toMatch(/Do not recommend, rank or prefer any instrument or direction/);
    for (const field of [
      'macro_regime',
      'top_narratives',
      'asset_setups',
      'bull_case_if',
      'bear_case_if',
      'key_levels',
      'event_calendar',
      'citations',
    ]) {
      expect(system).toContain(`\`${field}\``);
    }
    for (const a of week.ctx.universe) expect(system).toContain(`- ${a.ticker}: ${a.name} (${a.category})`);
    snapshotFactsIn(user, week);
    // The 7 trading days after the last session: Wednesday 2025-06-25 through Thursday 2025-07-03 (no July 4th).
    expect(user).toContain(
      'window (next 7 trading days): 2025-06-25 Wed, 2025-06-26 Thu, 2025-06-27 Fri, 2025-06-30 Mon, 2025-07-01 Tue, 2025-07-02 Wed, 2025-07-03 Thu',
    );
  });
});

describe('pm_pitch', () => {
  it('states the ranking, sign rule, invalidation and monitoring rules; data and research in the user message', () => {
    const messages = renderPrompt(PROMPTS.pmPitch, pmPitchVariables(week.ctx, week.research));
    expectCachingOrder(messages, 'pm_pitch_with_ranking', [...weeklyFacts(week), week.research.macro_regime.summary]);
    const [system, user] = messages.map((m) => m.content) as [string, string];
    expect(system).toContain('rank all 10 instruments (SPY, QQQ, IWM, TLT, IEF, HYG, LQD, UUP, GLD, USO)');
    expect(system).toContain('greater than 0 for LONG, less than 0 for SHORT, and 0 if and only if FLAT');
    expect(system).toContain('`thesis_bullets`: 2 to 6 bullets');
    expect(system).toContain('["09:00", "12:00", "14:00", "15:50"]');
    expect(system).toContain('1 to 8 entries');
    expect(system).toContain('`invalidation_rule_this_week`');
    snapshotFactsIn(user, week);
    expect(user).toContain(compactJson(week.research));
    expect(user.indexOf(compactJson(week.research))).toBeGreaterThan(user.indexOf('| USO |'));
  });
});

describe('peer_review', () => {
  it('shows the pitch under its label with no author, and the reviewer its own pitch as its view', () => {
    const { pm_model: _m, ...visible } = week.pitches.get('gemini')!;
    const own = week.pitches.get('gpt')!;
    const messages = renderPrompt(PROMPTS.peerReview, peerReviewVariables(week.ctx, { pitch_id: 'Pitch C', pitch: visible }, own));
    expectCachingOrder(messages, 'peer_review_ranking_vs_choice', [...weeklyFacts(week), 'Pitch C']);
    const [system, user] = messages.map((m) => m.content) as [string, string];
    // Every rubric item of the schema is explained to the reviewer.
    for (const key of RUBRIC) expect(system).toContain(`- \`${key}\`:`);
    expect(system).toContain('integer from 1 to 10');
    expect(system).toContain('`kill_shot`: the single most likely way this trade fails within the next 7 days');
    expect(user).toContain('# Pitch under review: Pitch C');
    expect(user).toContain(compactJson(visible));
    const { pm_model: _own, ...ownVisible } = own;
    expect(user).toContain(compactJson(ownVisible));
    for (const m of messages) {
      expect(m.content.toLowerCase()).not.toContain('gemini');
      expect(m.content).not.toContain('pm_model":');
    }
  });

  it('tells a reviewer without a pitch to review from the snapshot alone', () => {
    const { pm_model: _m, ...visible } = week.pitches.get('grok')!;
    const [, user] = renderPrompt(PROMPTS.peerReview, peerReviewVariables(week.ctx, { pitch_id: 'Pitch A', pitch: visible }, null));
    expect(user?.content).toContain('You have no pitch this week: review from the snapshot alone.');
  });
});

describe('chairman', () => {
  it('lists every pitch de-anonymized with its reviews and aggregate after the research', () => {
    const messages = renderPrompt(PROMPTS.chairman, chairmanVariables(week.ctx, week.research, week.reviewed));
    expectCachingOrder(messages, 'chairman_decision', [...weeklyFacts(week), ...SEATS.map((s) => s.model)]);
    const [system, user] = messages.map((m) => m.content) as [string, string];
    expect(system).toContain('`dissent_summary`: one entry for every pitch whose trade differs from your decision');
    expect(system).toContain('greater than 0 for LONG, less than 0 for SHORT, and 0 if and only if FLAT');
    snapshotFactsIn(user, week);
    expect(user).toContain('Pitch ids: gpt, gemini, sonnet, grok, deepseek.');
    for (const p of week.reviewed) {
      expect(user).toContain(`## ${p.pitch_id}: seat ${p.seat}, model ${p.model}`);
      expect(user).toContain(compactJson(p.pitch));
      expect(user).toContain(`Reviews received (${p.reviews.length}):`);
      for (const r of p.reviews) expect(user).toContain(`- by ${r.reviewer_model} (rubric mean `);
    }
    const gpt = week.reviewed[0]!;
    expect(user).toContain(`peer aggregate: mean rank 1.50, mean score ${gpt.mean_score.toFixed(2)}, votes 2`);
  });

  it('prints n/a for a pitch nobody reviewed', () => {
    const lone = { ...week.reviewed[0]!, reviews: [], mean_rank: Number.NaN, mean_score: Number.NaN, votes: 0 };
    const [, user] = renderPrompt(PROMPTS.chairman, chairmanVariables(week.ctx, week.research, [lone]));
    expect(user?.content).toContain('peer aggregate: mean rank n/a, mean score n/a, votes 0');
    expect(user?.content).toMatch(/Reviews received \(0\):\n\n- none/);
  });
});

describe('checkpoint', () => {
  const input = (): CheckpointPromptInput => {
    const pitch = week.pitches.get('sonnet')!;
    return {
      week_id: week.ctx.week_id,
      checkpoint_et: '2025-06-26T12:00:00-04:00',
      account_id: 3,
      universe: week.ctx.universe,
      position: {
        ticker: 'UUP',
        direction: 'LONG',
        horizon: '1W',
        conviction: 1,
        qty: 1749,
        avg_entry_price: 27.18,
        last_price: 27.02,
        unrealized_pl: -279.84,
        unrealized_pl_pct: -0.005887,
      },
      thesis_bullets: pitch.selected_trade.thesis_bullets,
      invalidation_rule: pitch.selected_trade.invalidation_rule_this_week,
      key_indicators: pitch.monitoring_plan.key_indicators,
      indicators: [
        { name: 'UUP price', value: 27.02, previous: 27.11 },
        { name: 'UUP RSI14', value: 38.64, previous: null },
      ],
    };
  };

  it('puts the hard rule in the system message and the position, thesis and indicators in the user message', () => {
    const vars = input();
    const messages = renderPrompt(PROMPTS.checkpoint, checkpointVariables(vars));
    expectCachingOrder(messages, 'checkpoint_update', [vars.checkpoint_et, '27.02', '27.18', '-279.84', vars.invalidation_rule]);
    const [system, user] = messages.map((m) => m.content) as [string, string];
    expect(system).toContain('# HARD RULE: no new research');
    for (const action of ['STAY', 'EXIT', 'FLIP', 'REDUCE']) expect(system).toContain(`- ${action}:`);
    expect(user).toContain('- checkpoint_et: 2025-06-26T12:00:00-04:00');
    expect(user).toContain('- account_id: 3');
    expect(user).toContain('- conviction_before: +1');
    expect(user).toContain('UUP LONG, horizon 1W, conviction +1, quantity 1749');
    expect(user).toContain('average entry 27.18, last price 27.02');
    expect(user).toContain('unrealized P/L -279.84 (-0.59%)');
    for (const b of vars.thesis_bullets) expect(user).toContain(`- ${b}`);
    expect(user).toContain(`Invalidation rule this week: ${vars.invalidation_rule}`);
    for (const k of vars.key_indicators) expect(user).toContain(`- ${k.name}: expect ${k.expected_signal}; flip if ${k.flip_condition}`);
    expect(user).toContain('| UUP price | 27.02 | 27.11 |');
    expect(user).toContain('| UUP RSI14 | 38.64 | n/a |');
  });
});

describe('shipped templates', () => {
  it('all live in the packaged config/prompts, the research prompt under its seed name', () => {
    expect(promptsDir()).toBe(join(import.meta.dirname, '..', '..', 'config', 'prompts'));
    for (const name of Object.values(PROMPTS)) {
      const text = readFileSync(join(promptsDir(), `${name}.md`), 'utf8');
      expect(text.indexOf('<!-- system -->')).toBeLessThan(text.indexOf('<!-- user -->'));
    }
    expect(PROMPTS.research).toBe('weekly_research_prompt_v1_5');
  });

  it('name the real file and line when a variable is missing', () => {
    const file = join(promptsDir(), 'pm_pitch.md');
    const line =
      readFileSync(file, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('{{ research_json }}')) + 1;
    const { research_json: _dropped, ...partial } = pmPitchVariables(week.ctx, week.research);
    expect(() => renderPrompt(PROMPTS.pmPitch, partial)).toThrow(
      `config/prompts/pm_pitch.md:${line}: {{ research_json }} is undefined or null (a variable the caller did not pass?)`,
    );
  });
});
