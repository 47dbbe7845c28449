/**
 * The offline chairman: a peer-weighted vote. Each pitch's weight is its mean peer-review score
 * (scaled to 0..1) boosted by the reviewers' votes; the council trades the ticker with the largest
 * absolute weighted conviction, in the direction of its sign. Conviction is the weighted average
 * among the pitches on that ticker, cut to 1 when they hold under half of the council's weight and
 * to FLAT when the net is below a quarter of it: a minority idea is not a council decision.
 */
import type { AgentResult, CallOptions, Chairman, CheckpointContext, ReviewedPitch, WeekContext } from '../../ports/agents.js';
import { ensureNotAborted, offlineResult } from '../../research/offline/offline-result.js';
import { assetsByTicker, byText, quickFacts, signedNum } from '../../research/offline/snapshot-text.js';
import {
  ChairmanDecision,
  type CheckpointUpdate,
  type Direction,
  type Horizon,
  type PeerReview,
  type ResearchPack,
  meanScore,
} from '../../schemas/index.js';
import { CHECKPOINT_STYLES, decideCheckpoint } from './checkpoint.js';
import { directionOf } from './evaluate.js';
import { CHECKPOINTS_ET } from './pitch.js';

export const OFFLINE_CHAIRMAN_MODEL = 'offline/peer-weighted';

/** Net weighted conviction per unit of total weight below which the council stays FLAT. */
export const FLAT_SHARE = 0.25;
/** Below this share the decision is a minority view: conviction at most 1. */
export const FULL_CONVICTION_SHARE = 0.5;
/** Peer score assumed for a pitch nobody reviewed (the rubric midpoint). */
const NEUTRAL_SCORE = 5;
const HORIZON_ORDER: readonly Horizon[] = ['1W', '3D', '1D'];
const MAX_INDICATORS = 8;

interface Weighted {
  p: ReviewedPitch;
  peerScore: number;
  weight: number;
  signed: number;
}

function peerScoreOf(p: ReviewedPitch): number {
  if (Number.isFinite(p.mean_score) && p.mean_score > 0) return p.mean_score;
  if (p.reviews.length > 0) return p.reviews.reduce((s, r) => s + meanScore(r), 0) / p.reviews.length;
  return NEUTRAL_SCORE;
}

/** weight = mean peer score / 10 × (1 + votes / number of pitches). */
function weigh(pitches: readonly ReviewedPitch[]): Weighted[] {
  const n = pitches.length;
  return pitches.map((p) => {
    const peerScore = peerScoreOf(p);
    const votes = Number.isFinite(p.votes) && p.votes > 0 ? p.votes : 0;
    return { p, peerScore, weight: (peerScore / 10) * (1 + votes / n), signed: p.pitch.selected_trade.conviction };
  });
}

/** The ticker the council trades: largest |net|, then more weight behind it, then ticker order. */
function chooseTicker(ws: readonly Weighted[]): { ticker: string; net: number; gross: number; nets: Map<string, number> } {
  const nets = new Map<string, number>();
  const gross = new Map<string, number>();
  for (const w of ws) {
    const t = w.p.pitch.selected_trade.ticker;
    nets.set(t, (nets.get(t) ?? 0) + w.weight * w.signed);
    gross.set(t, (gross.get(t) ?? 0) + w.weight);
  }
  const tickers = [...nets.keys()].sort((a, b) => {
    const byNet = Math.abs(nets.get(b) ?? 0) - Math.abs(nets.get(a) ?? 0);
    if (byNet !== 0) return byNet;
    const byGross = (gross.get(b) ?? 0) - (gross.get(a) ?? 0);
    return byGross !== 0 ? byGross : byText(a, b);
  });
  const ticker = tickers[0] as string;
  return { ticker, net: nets.get(ticker) ?? 0, gross: gross.get(ticker) ?? 0, nets };
}

function horizonOf(supporters: readonly Weighted[]): Horizon {
  const tally = new Map<Horizon, { count: number; weight: number }>();
  for (const w of supporters) {
    const h = w.p.pitch.selected_trade.horizon;
    const t = tally.get(h) ?? { count: 0, weight: 0 };
    tally.set(h, { count: t.count + 1, weight: t.weight + w.weight });
  }
  const best = [...HORIZON_ORDER].sort((a, b) => {
    const ta = tally.get(a) ?? { count: 0, weight: 0 };
    const tb = tally.get(b) ?? { count: 0, weight: 0 };
    return tb.count - ta.count || tb.weight - ta.weight || HORIZON_ORDER.indexOf(a) - HORIZON_ORDER.indexOf(b);
  });
  return best[0] ?? '1W';
}

function describe(w: Weighted): string {
  const t = w.p.pitch.selected_trade;
  return `${w.p.pitch_id} ${w.p.model} (${t.ticker} ${t.direction} ${signedNum(t.conviction, 0)}, peer score ${w.peerScore.toFixed(2)}, ${w.p.votes} vote${w.p.votes === 1 ? '' : 's'}, weight ${w.weight.toFixed(2)})`;
}

/** The most critical review a pitch received (lowest rubric mean; ties by reviewer). */
function harshestReview(reviews: readonly PeerReview[]): PeerReview | undefined {
  return [...reviews].sort((a, b) => meanScore(a) - meanScore(b) || byText(a.reviewer_model, b.reviewer_model))[0];
}

/** What a dissenting pitch stands for, its own objection to the decision, and the peers' concern. */
function dissentConcern(d: Weighted, supporters: readonly Weighted[]): string {
  const t = d.p.pitch.selected_trade;
  const parts = [`Backs ${t.ticker} ${t.direction} ${signedNum(t.conviction, 0)}: ${t.thesis_bullets[0] ?? ''}`];
  for (const s of supporters) {
    const objection = s.p.reviews.find((r) => r.reviewer_model === d.p.model);
    if (objection) {
      parts.push(`Its review of ${s.p.pitch_id}: ${objection.kill_shot}`);
      break;
    }
  }
  const harsh = harshestReview(d.p.reviews);
  if (harsh) parts.push(`Peers' kill shot on it: ${harsh.kill_shot}`);
  return parts.join(' ');
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

export function decideCouncil(ctx: WeekContext, pitches: readonly ReviewedPitch[]): ChairmanDecision {
  // Order by pitch_id so the result cannot depend on the order the pipeline happens to pass.
  const sorted = [...pitches].sort((a, b) => byText(a.pitch_id, b.pitch_id));
  if (sorted.length === 0) {
    const ticker = ctx.universe[0]?.ticker ?? 'SPY';
    return ChairmanDecision.parse({
      week_id: ctx.week_id,
      asof_et: ctx.asof_et,
      selected_trade: { ticker, direction: 'FLAT', horizon: '1W' },
      conviction: 0,
      rationale: '[offline chairman] No pitch reached the chairman: the council stays FLAT.',
      invalidation_trigger: null,
      dissent_summary: [],
      monitoring_plan: { checkpoints_et: [...CHECKPOINTS_ET], invalidation_triggers: [], key_indicators: [] },
    });
  }
  const ws = weigh(sorted);
  const total = ws.reduce((s, w) => s + w.weight, 0);
  const { ticker, net, gross, nets } = chooseTicker(ws);
  const share = total > 0 ? Math.abs(net) / total : 0;
  const average = gross > 0 ? Math.abs(net) / gross : 0;
  let magnitude = share < FLAT_SHARE ? 0 : Math.min(2, Math.max(1, Math.round(average)));
  if (magnitude === 2 && share < FULL_CONVICTION_SHARE) magnitude = 1;
  const conviction = magnitude * Math.sign(net);
  const direction: Direction = directionOf(conviction);

  const onTicker = ws.filter((w) => w.p.pitch.selected_trade.ticker === ticker);
  const supporters = direction === 'FLAT' ? onTicker : onTicker.filter((w) => w.p.pitch.selected_trade.direction === direction);
  const dissenters = ws.filter((w) => w.p.pitch.selected_trade.ticker !== ticker || w.p.pitch.selected_trade.direction !== direction);
  const horizon = direction === 'FLAT' ? '1W' : horizonOf(supporters);

  const runnerUp = [...nets.entries()]
    .filter(([t]) => t !== ticker)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || byText(a[0], b[0]))[0];
  const asset = assetsByTicker(ctx.snapshot).get(ticker);
  const decisionText =
    direction === 'FLAT'
      ? share < FLAT_SHARE && Math.abs(net) > 0
        ? `FLAT: ${ticker} leads with net weighted conviction ${signedNum(net)}, only ${share.toFixed(2)} of the total weight ${total.toFixed(2)} (< ${FLAT_SHARE}): no council majority behind any trade.`
        : `FLAT: no pitch carries net conviction (${ticker} is the most-backed idea).`
      : `${ticker} ${direction}: net weighted conviction ${signedNum(net)} = ${share.toFixed(2)} of the total weight ${total.toFixed(2)}; weighted average ${average.toFixed(2)} among the ${onTicker.length} pitch${onTicker.length === 1 ? '' : 'es'} on ${ticker}` +
        (share < FULL_CONVICTION_SHARE && Math.round(average) >= 2
          ? `, capped at 1 because support is under ${FULL_CONVICTION_SHARE} of the weight`
          : '') +
        ` -> conviction ${signedNum(conviction, 0)}.`;
  const rationale = [
    `[offline chairman] Peer-weighted aggregation of ${ws.length} pitches (weight = mean peer score / 10 x (1 + votes / ${ws.length})).`,
    decisionText,
    supporters.length > 0 ? `Supporting: ${supporters.map(describe).join('; ')}.` : 'Supporting: none.',
    runnerUp ? `Runner-up: ${runnerUp[0]} net ${signedNum(runnerUp[1])}.` : '',
    asset ? `Snapshot: ${quickFacts(asset)}.` : '',
  ]
    .filter((s) => s.length > 0)
    .join(' ');

  const indicators = unique(
    supporters.flatMap((w) =>
      w.p.pitch.monitoring_plan.key_indicators.map((k) => `${k.name}: ${k.expected_signal}; flip if ${k.flip_condition}`),
    ),
  ).slice(0, MAX_INDICATORS);

  // The council's trigger is that of its heaviest supporter (for FLAT: of the heaviest pitch on the ticker).
  const trigger =
    [...supporters]
      .sort((a, b) => b.weight - a.weight || byText(a.p.pitch_id, b.p.pitch_id))
      .find((w) => w.p.pitch.selected_trade.invalidation_trigger)?.p.pitch.selected_trade.invalidation_trigger ?? null;

  return ChairmanDecision.parse({
    week_id: ctx.week_id,
    asof_et: ctx.asof_et,
    selected_trade: { ticker, direction, horizon },
    conviction,
    rationale,
    invalidation_trigger: trigger,
    dissent_summary: dissenters.map((d) => ({ pitch_id: d.p.pitch_id, model: d.p.model, key_concern: dissentConcern(d, supporters) })),
    monitoring_plan: {
      checkpoints_et: [...CHECKPOINTS_ET],
      invalidation_triggers: unique(supporters.map((w) => `${w.p.pitch_id}: ${w.p.pitch.selected_trade.invalidation_rule_this_week}`)),
      key_indicators: indicators,
    },
  });
}

export class OfflineChairman implements Chairman {
  readonly model = OFFLINE_CHAIRMAN_MODEL;

  async decide(
    ctx: WeekContext,
    _research: ResearchPack,
    pitches: readonly ReviewedPitch[],
    opts: CallOptions,
  ): Promise<AgentResult<ChairmanDecision>> {
    ensureNotAborted(opts);
    return offlineResult(decideCouncil(ctx, pitches), this.model);
  }

  async checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>> {
    ensureNotAborted(opts);
    return offlineResult(decideCheckpoint(CHECKPOINT_STYLES['peer-weighted'], ctx), this.model);
  }
}
