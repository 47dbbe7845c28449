/**
 * Formatting of the week's data for prompts. Numbers go through the same helpers the offline agents
 * use (fixed decimals, no locale), so a prompt is byte-identical for the same inputs: that keeps the
 * response cache's content addresses stable and lets a model quote a level exactly as it was given.
 */
import type { AssetSnapshot, MarketSnapshot } from '../market/types.js';
import type { ReviewedPitch } from '../ports/agents.js';
import { high52, low52, num, pct, price, rsi, signedNum, signedPct } from '../research/offline/snapshot-text.js';
import type { z } from 'zod';
import { type PeerReview, PeerReview as PeerReviewSchema, meanScore } from '../schemas/index.js';
import { PmPitchShape } from '../schemas/pm-pitch.js';

/** Single-line JSON: compact for the token budget, and still unambiguous for the model. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * compactJson of an agent's output with its keys in the schema's order, whatever order the value
 * arrived in. A stage output read back from the database (a resumed week) comes out of a jsonb column,
 * which reorders object keys; fresh from the model, or from the response cache, it went through the
 * zod schema, which puts them in the schema's order. Normalising here makes the prompt byte-identical
 * either way, so a resumed week and a re-run of it are answered from the cache. A value the schema
 * refuses (it cannot be one the pipeline accepted) is printed as it is.
 */
export function schemaJson(schema: z.ZodType, value: unknown): string {
  const parsed = schema.safeParse(value);
  return compactJson(parsed.success ? parsed.data : value);
}

/** A pitch without its author, as reviewers see it. */
const AnonymousPitch = PmPitchShape.omit({ pm_model: true });
export const anonymousPitchJson = (pitch: unknown) => schemaJson(AnonymousPitch, pitch);

const SNAPSHOT_COLUMNS = [
  'ticker',
  'close',
  '1d',
  '1w',
  '1m',
  '3m',
  'vol20d',
  'RSI14',
  'MACD hist',
  'ATR14',
  'SMA20',
  'SMA50',
  'SMA200',
  '52w high',
  '52w low',
  'corr SPY 60d',
] as const;

function snapshotRow(a: AssetSnapshot): string[] {
  const atr = a.atr_14 === null ? 'n/a' : `${price(a.atr_14)} (${pct(a.atr_pct, 2)})`;
  return [
    a.ticker,
    price(a.last_close),
    signedPct(a.returns.d1),
    signedPct(a.returns.w1),
    signedPct(a.returns.m1),
    signedPct(a.returns.m3),
    pct(a.realized_vol_20d),
    rsi(a.rsi_14),
    a.macd === null ? 'n/a' : signedNum(a.macd.histogram, 3),
    atr,
    price(a.sma_20),
    price(a.sma_50),
    price(a.sma_200),
    price(high52(a)),
    price(low52(a)),
    num(a.corr_spy_60d),
  ];
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * The snapshot as a Markdown table, one row per instrument: closes, returns, volatility, momentum and
 * the only price levels a prompt may cite (SMAs, 52-week high/low). An asset whose last bar is older
 * than the snapshot's data_through is flagged below the table, so nobody reads a stale close as fresh.
 */
export function formatSnapshotTable(snapshot: MarketSnapshot): string {
  const table = markdownTable(SNAPSHOT_COLUMNS, snapshot.assets.map(snapshotRow));
  const stale = snapshot.assets.filter((a) => a.last_date !== snapshot.data_through);
  if (stale.length === 0) return table;
  return `${table}\n\nStale rows (last bar before ${snapshot.data_through}): ${stale.map((a) => `${a.ticker} ${a.last_date}`).join(', ')}`;
}

/** A mean that may be missing (the pipeline passes NaN or null when a pitch got no reviews). */
export function formatMean(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : num(value, digits);
}

/** One review as the chairman sees it: who wrote it, its rubric mean, and the full review. */
export interface ReviewForPrompt {
  reviewer_model: string;
  mean_score: string;
  review_json: string;
}

/** One de-anonymized pitch for the chairman, every field pre-formatted (templates print no raw numbers). */
export interface PitchForPrompt {
  pitch_id: string;
  seat: string;
  model: string;
  mean_rank: string;
  mean_score: string;
  votes: string;
  trade: string;
  pitch_json: string;
  reviews: ReviewForPrompt[];
}

function reviewForPrompt(review: PeerReview): ReviewForPrompt {
  return {
    reviewer_model: review.reviewer_model,
    mean_score: formatMean(meanScore(review)),
    review_json: schemaJson(PeerReviewSchema, review),
  };
}

export function pitchForPrompt(p: ReviewedPitch): PitchForPrompt {
  const t = p.pitch.selected_trade;
  return {
    pitch_id: p.pitch_id,
    seat: p.seat,
    model: p.model,
    mean_rank: formatMean(p.mean_rank),
    mean_score: formatMean(p.mean_score),
    votes: String(Number.isFinite(p.votes) ? p.votes : 0),
    trade: `${t.ticker} ${t.direction} conviction ${signedNum(t.conviction, 0)} horizon ${t.horizon}`,
    pitch_json: schemaJson(PmPitchShape, p.pitch),
    reviews: p.reviews.map(reviewForPrompt),
  };
}
