import type { App } from '../../src/app.js';
import { runWeek } from '../../src/council/weekly.js';
import { weekOf } from '../../src/council/week.js';
import { wireSchemaName } from '../../src/llm/chat-wire.js';
import { openStore } from '../../src/storage/db.js';
import type { StandInRequest, StandInScript, Reply } from './llm-stand-in.js';
import { reply } from './llm-stand-in.js';
import { testApp } from './app.js';

/**
 * Answers LLM requests of a weekly run the way a well-behaved model would: with valid JSON for the
 * schema asked for. The answers are what the offline agents produce for the same week, so a test
 * can run the real LLM seats, prompts, client and pipeline end to end against the stand-in server.
 */
export interface CouncilAnswers {
  research: unknown;
  pitchBySeat: Map<string, unknown>;
  reviewBySeat: Map<string, Record<string, unknown>>;
  decision: unknown;
}

export async function offlineAnswers(weekId: string): Promise<CouncilAnswers> {
  return (await offlineAnswersByWeek([weekId])).get(weekId) as CouncilAnswers;
}

/** The offline council's answers for several weeks (decision stages only: nothing trades), on one database. */
export async function offlineAnswersByWeek(weekIds: readonly string[]): Promise<Map<string, CouncilAnswers>> {
  const store = await openStore({ memory: true });
  const app = await testApp(store);
  try {
    const byWeek = new Map<string, CouncilAnswers>();
    for (const weekId of weekIds) {
      const { result, error } = await runWeek(
        app,
        weekOf(weekId, app.config),
        ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman'],
        {},
        () => undefined,
      );
      if (error) throw error;
      const { provider: _p, model: _m, ...decision } = result.decision as Record<string, unknown>;
      const { provider: _rp, model: _rm, ...research } = result.research as Record<string, unknown>;
      byWeek.set(weekId, {
        research,
        pitchBySeat: new Map(result.pitches.map((p) => [p.seat, p.pitch])),
        reviewBySeat: new Map(result.reviews.map((r) => [r.reviewer, r.review as Record<string, unknown>])),
        decision,
      });
    }
    return byWeek;
  } finally {
    await app.cleanup();
    await store.close();
  }
}

/** councilResponder for several weeks: each request is answered with the answers of the week its prompt names. */
export function weeklyCouncilResponder(
  byWeek: ReadonlyMap<string, CouncilAnswers>,
  seatOf: (model: string) => string | null,
): (req: StandInRequest, index: number) => Reply | Promise<Reply> {
  const responders = new Map([...byWeek].map(([week, answers]) => [week, councilResponder(answers, seatOf)]));
  return (req, index) => {
    const text = (req.chat?.messages ?? []).map((m) => m.content).join('\n');
    const week = /- week_id: (\d{4}-\d{2}-\d{2})/.exec(text)?.[1] ?? '';
    const script = responders.get(week);
    if (typeof script !== 'function') return reply.text(`the stand-in has no answers for week "${week}"`);
    return script(req, index);
  };
}

const SCHEMA_NAMES = [
  'research_pack',
  'pm_pitch_with_ranking',
  'peer_review_ranking_vs_choice',
  'chairman_decision',
  'checkpoint_update',
] as const;

/** The schema a request asks for (e.g. 'pm_pitch_with_ranking'), from its wire name or else its prompt. */
export function schemaNameOf(req: StandInRequest): string | null {
  const named = req.chat?.response_format?.json_schema?.name;
  if (named) return SCHEMA_NAMES.find((name) => wireSchemaName(name) === named) ?? named;
  const text = (req.chat?.messages ?? []).map((m) => m.content).join('\n');
  return SCHEMA_NAMES.find((name) => text.includes(`${name}.schema.json`)) ?? null;
}

/** The seat a model id belongs to, from config/models.yaml for the given provider. */
export function seatOfModel(app: Pick<App, 'config'>, provider: string): (model: string) => string | null {
  const byModel = new Map(Object.entries(app.config.models.seats).map(([seat, s]) => [s.models[provider] ?? '', seat]));
  return (model) => byModel.get(model) ?? null;
}

export function councilResponder(
  answers: CouncilAnswers,
  seatOf: (model: string) => string | null,
  wrap: (req: StandInRequest, body: Reply) => Reply = (_r, b) => b,
): StandInScript {
  return (req) => {
    const schema = schemaNameOf(req);
    const seat = seatOf(req.chat?.model ?? '') ?? 'unknown';
    const answer = (): unknown => {
      switch (schema) {
        case 'research_pack':
          return answers.research;
        case 'pm_pitch_with_ranking':
          return answers.pitchBySeat.get(seat);
        case 'peer_review_ranking_vs_choice': {
          const label = /# Pitch under review: (Pitch [A-Z])/.exec((req.chat?.messages ?? []).map((m) => m.content).join('\n'))?.[1];
          return { ...answers.reviewBySeat.get(seat), pitch_id: label };
        }
        case 'chairman_decision': {
          // Dissent may only name the pitches the chairman was given (a failed seat has none).
          const given = /Pitch ids: ([^.]*)\./.exec((req.chat?.messages ?? []).map((m) => m.content).join('\n'))?.[1]?.split(/,\s*/) ?? [];
          const decision = answers.decision as { dissent_summary: { pitch_id: string }[] };
          return { ...decision, dissent_summary: decision.dissent_summary.filter((d) => given.includes(d.pitch_id)) };
        }
        case 'checkpoint_update':
          return stayAnswer((req.chat?.messages ?? []).map((m) => m.content).join('\n'));
        default:
          return { error: `the stand-in does not know schema ${schema}` };
      }
    };
    const value = answer();
    return wrap(
      req,
      value === undefined
        ? reply.text('I cannot answer that.')
        : reply.json(value, {
            usage: { prompt_tokens: 2000, completion_tokens: 800 },
            cost: 0.01,
            costStyle: schema === 'research_pack' ? 'perplexity' : 'openrouter',
          }),
    );
  };
}

/** A STAY checkpoint_update for the checkpoint the prompt describes (its ids and conviction copied from it). */
export function stayAnswer(prompt: string): unknown {
  const field = (name: string) => new RegExp(`- ${name}: (\\S+)`).exec(prompt)?.[1] ?? '';
  const before = Number(field('conviction_before'));
  return {
    week_id: field('week_id'),
    checkpoint_et: field('checkpoint_et'),
    account_id: Number(field('account_id')),
    conviction_before: before,
    conviction_after: before,
    action: 'STAY',
    reason: 'The thesis holds and the rule has not fired.',
    invalidation_fired: null,
    indicators_snapshot: [],
  };
}
