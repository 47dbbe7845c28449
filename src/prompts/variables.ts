/**
 * The variables each prompt template receives, built from the agents' inputs. Every value a template
 * prints is a string or number prepared here (templates print no raw nulls: `throwOnUndefined`
 * treats null as missing), and each builder's return type documents what its template may use.
 */
import { weekdayOf } from '../market/calendar.js';
import type { Asset, AnonymizedPitch, ReviewedPitch, WeekContext } from '../ports/agents.js';
import { nextTradingDays } from '../research/offline/event-calendar.js';
import { price, signedNum, signedPct } from '../research/offline/snapshot-text.js';
import { ResearchPack as ResearchPackSchema, type Direction, type Horizon, type PmPitch, type ResearchPack } from '../schemas/index.js';
import { toJsonSchema } from '../schemas/json-schema.js';
import { anonymousPitchJson, compactJson, formatSnapshotTable, pitchForPrompt, schemaJson, type PitchForPrompt } from './format.js';

/** Template names (config/prompts/<name>.md); the research prompt keeps the seed's name. */
export const PROMPTS = {
  research: 'weekly_research_prompt_v1_5',
  pmPitch: 'pm_pitch',
  peerReview: 'peer_review',
  chairman: 'chairman',
  checkpoint: 'checkpoint',
} as const;

/** Trading days the weekly research covers (DESIGN §1: the next 7 trading days). */
export const RESEARCH_WINDOW_DAYS = 7;

/** Stable across weeks, so fit for the system message: the universe only changes with config. */
export interface UniverseVariables {
  universe: readonly Asset[];
  /** "SPY, QQQ, …" in universe order. */
  tickers: string;
  n_instruments: number;
}

/** The week's data, for the user message only. */
export interface WeekVariables {
  week_id: string;
  asof_et: string;
  /** The last session whose bar the snapshot used. */
  data_through: string;
  /** Markdown table of the snapshot (see formatSnapshotTable). */
  snapshot_table: string;
  /** The output's JSON Schema, compact JSON: the reminder at the very end of the user message. */
  json_schema: string;
}

export type ResearchPromptVariables = UniverseVariables &
  WeekVariables & {
    /** The window's trading days, e.g. "2025-06-25 Wed". */
    trading_days: string[];
  };

export type PmPitchPromptVariables = UniverseVariables & WeekVariables & { research_json: string };

export type PeerReviewPromptVariables = UniverseVariables &
  WeekVariables & {
    /** The anonymized label, e.g. "Pitch B": the only identity of the pitch under review. */
    pitch_id: string;
    /** The pitch under review, compact JSON, without pm_model. */
    pitch_json: string;
    /** The reviewer's own pitch as its point of view (compact JSON, without pm_model), '' when it has none. */
    own_pitch_json: string;
  };

export type ChairmanPromptVariables = UniverseVariables &
  WeekVariables & {
    research_json: string;
    pitches: PitchForPrompt[];
    /** "gpt, gemini, …": the ids dissent_summary may use. */
    pitch_ids: string;
  };

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export function universeVariables(universe: readonly Asset[]): UniverseVariables {
  return { universe: universe.map((a) => ({ ...a })), tickers: universe.map((a) => a.ticker).join(', '), n_instruments: universe.length };
}

// A week's 27 prompts share one snapshot: format its table once per snapshot object.
const snapshotTables = new WeakMap<WeekContext['snapshot'], string>();

function snapshotTable(snapshot: WeekContext['snapshot']): string {
  let table = snapshotTables.get(snapshot);
  if (table === undefined) {
    table = formatSnapshotTable(snapshot);
    snapshotTables.set(snapshot, table);
  }
  return table;
}

function weekVariables(ctx: WeekContext, schemaName: string): WeekVariables {
  return {
    week_id: ctx.week_id,
    asof_et: ctx.asof_et,
    data_through: ctx.snapshot.data_through,
    snapshot_table: snapshotTable(ctx.snapshot),
    json_schema: compactJson(toJsonSchema(schemaName)),
  };
}

/** The pitch without its author: reviewers must not learn whose pitch it is, and their own needs no name. */
function withoutAuthor(pitch: AnonymizedPitch['pitch'] | PmPitch): AnonymizedPitch['pitch'] {
  // Strip at runtime too: Omit<> in the port is a compile-time promise only.
  const { pm_model: _author, ...rest } = pitch as PmPitch;
  return rest;
}

export function researchVariables(ctx: WeekContext): ResearchPromptVariables {
  const days = nextTradingDays(ctx.snapshot.data_through, RESEARCH_WINDOW_DAYS);
  return {
    ...universeVariables(ctx.universe),
    ...weekVariables(ctx, 'research_pack'),
    trading_days: days.map((d) => `${d} ${WEEKDAYS[weekdayOf(d)] ?? ''}`.trim()),
  };
}

export function pmPitchVariables(ctx: WeekContext, research: ResearchPack): PmPitchPromptVariables {
  return {
    ...universeVariables(ctx.universe),
    ...weekVariables(ctx, 'pm_pitch_with_ranking'),
    research_json: schemaJson(ResearchPackSchema, research),
  };
}

export function peerReviewVariables(ctx: WeekContext, target: AnonymizedPitch, own: PmPitch | null): PeerReviewPromptVariables {
  return {
    ...universeVariables(ctx.universe),
    ...weekVariables(ctx, 'peer_review_ranking_vs_choice'),
    pitch_id: target.pitch_id,
    pitch_json: anonymousPitchJson(withoutAuthor(target.pitch)),
    own_pitch_json: own ? anonymousPitchJson(withoutAuthor(own)) : '',
  };
}

export function chairmanVariables(ctx: WeekContext, research: ResearchPack, pitches: readonly ReviewedPitch[]): ChairmanPromptVariables {
  return {
    ...universeVariables(ctx.universe),
    ...weekVariables(ctx, 'chairman_decision'),
    research_json: schemaJson(ResearchPackSchema, research),
    pitches: pitches.map(pitchForPrompt),
    pitch_ids: pitches.map((p) => p.pitch_id).join(', '),
  };
}

/** What the checkpoint engine knows about one account at a checkpoint (wired by the checkpoint issue). */
export interface CheckpointPromptInput {
  week_id: string;
  /** ISO timestamp of the checkpoint in America/New_York, e.g. 2025-06-26T12:00:00-04:00. */
  checkpoint_et: string;
  account_id: number;
  universe: readonly Asset[];
  position: {
    ticker: string;
    direction: Direction;
    horizon: Horizon;
    conviction: number;
    qty: number;
    avg_entry_price: number | null;
    last_price: number | null;
    unrealized_pl: number | null;
    unrealized_pl_pct: number | null;
  };
  /** From the pitch (or decision) that opened the position: the thesis it must still satisfy. */
  thesis_bullets: readonly string[];
  invalidation_rule: string;
  key_indicators: readonly { name: string; expected_signal: string; flip_condition: string }[];
  /** The engine's verdict on the machine-checkable invalidation trigger. */
  trigger_check?: string;
  /** Where the last price comes from. */
  price_note?: string;
  /** Current values of the monitored indicators, with the previous checkpoint's value when known. */
  indicators: readonly { name: string; value: number; previous: number | null }[];
}

export type CheckpointPromptVariables = UniverseVariables & {
  week_id: string;
  checkpoint_et: string;
  account_id: number;
  conviction_before: string;
  position_summary: string;
  thesis_bullets: string[];
  invalidation_rule: string;
  key_indicators: { name: string; expected_signal: string; flip_condition: string }[];
  indicators_table: string;
  trigger_check: string;
  json_schema: string;
};

/** Up to six significant digits, so a price, an RSI and a spread all read naturally. */
function indicatorValue(x: number | null): string {
  return x === null || !Number.isFinite(x) ? 'n/a' : String(Number(x.toPrecision(6)));
}

function positionSummary(p: CheckpointPromptInput['position']): string {
  return [
    `${p.ticker} ${p.direction}, horizon ${p.horizon}, conviction ${signedNum(p.conviction, 0)}, quantity ${p.qty}`,
    `average entry ${price(p.avg_entry_price)}, last price ${price(p.last_price)}`,
    `unrealized P/L ${signedNum(p.unrealized_pl)} (${signedPct(p.unrealized_pl_pct, 2)})`,
  ].join('\n');
}

export function checkpointVariables(input: CheckpointPromptInput): CheckpointPromptVariables {
  const rows = input.indicators.map((i) => `| ${i.name} | ${indicatorValue(i.value)} | ${indicatorValue(i.previous)} |`);
  return {
    ...universeVariables(input.universe),
    week_id: input.week_id,
    checkpoint_et: input.checkpoint_et,
    account_id: input.account_id,
    conviction_before: signedNum(input.position.conviction, 0),
    position_summary: positionSummary(input.position) + (input.price_note ? `\n${input.price_note}` : ''),
    thesis_bullets: [...input.thesis_bullets],
    invalidation_rule: input.invalidation_rule,
    key_indicators: input.key_indicators.map((k) => ({ ...k })),
    indicators_table: ['| indicator | now | previous checkpoint |', '| --- | --- | --- |', ...rows].join('\n'),
    trigger_check: input.trigger_check ?? 'no machine-checkable trigger was given this week',
    json_schema: compactJson(toJsonSchema('checkpoint_update')),
  };
}
