/**
 * An offline PM's peer review of another (anonymized) pitch. Each rubric score is a documented,
 * checkable rule comparing the pitch with the snapshot and with the reviewer persona's own view,
 * so reviews differ by reviewer exactly where the styles differ. The target is anonymous: nothing
 * here can name its seat or model, because nothing here receives them.
 */
import type { AssetSnapshot } from '../../market/types.js';
import type { AnonymizedPitch, WeekContext } from '../../ports/agents.js';
import { deriveRegime } from '../../research/offline/regime.js';
import {
  assetsByTicker,
  byText,
  levelAbove,
  levelBelow,
  pct,
  price,
  quickFacts,
  rsi,
  signedNum,
  signedPct,
} from '../../research/offline/snapshot-text.js';
import { PeerReview, RUBRIC, type PmPitch, type RubricKey } from '../../schemas/index.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { features } from './features.js';
import { levelName, type PersonaSpec } from './persona-spec.js';

type Pitch = AnonymizedPitch['pitch'];
type Scores = PeerReview['scores'];

/** Integer score clamped to the rubric's 1..10. */
function score(x: number): number {
  return Math.min(10, Math.max(1, Math.round(x)));
}

/** Spearman rank correlation over the tickers both rankings contain; 0 when fewer than 2. */
export function spearman(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  const common = [...a.keys()].filter((t) => b.has(t)).sort();
  const n = common.length;
  if (n < 2) return 0;
  // Re-rank within the common set so missing tickers cannot distort d².
  const rerank = (m: ReadonlyMap<string, number>): Map<string, number> =>
    new Map([...common].sort((x, y) => (m.get(x) ?? 0) - (m.get(y) ?? 0) || byText(x, y)).map((t, i) => [t, i + 1]));
  const ra = rerank(a);
  const rb = rerank(b);
  const d2 = common.reduce((s, t) => s + ((ra.get(t) ?? 0) - (rb.get(t) ?? 0)) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

function rankMap(rows: readonly { ticker: string; rank: number }[]): Map<string, number> {
  return new Map(rows.map((r) => [r.ticker, r.rank]));
}

/** Tickers of a pitch's ranking, best first. */
function ordered(pitch: Pitch): string[] {
  return [...pitch.instrument_ranking].sort((x, y) => x.rank - y.rank).map((r) => r.ticker);
}

/** Price-like numbers in a text (e.g. "79.51"), ignoring percentages and indicator periods. */
export function priceNumbers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/(?<![\w.(-])(\d+(?:\.\d+)?)(?!\.?\d)(?!\s*%)(?!\s*ATR)/g)) {
    const v = Number(m[1]);
    if (Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** Known indicator vocabulary: what a snapshot actually contains. */
const INDICATOR_WORDS = /\b(RSI|SMA\d*|EMA\d*|MACD|ATR|vol|volatility|52w|return|close|price|corr)/i;

/** Cited "SMA20 123.45"-style levels that disagree with the snapshot (more than 0.5% off). */
function levelMismatches(text: string, by: ReadonlyMap<string, AssetSnapshot>, fallback: AssetSnapshot | undefined): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\b(?:([A-Z]{2,5}) [^;:,]*?)?\b(SMA20|SMA50|SMA200)(?: at)? (\d+(?:\.\d+)?)/g)) {
    const a = (m[1] ? by.get(m[1]) : undefined) ?? fallback;
    const field = m[2] === 'SMA20' ? 'sma_20' : m[2] === 'SMA50' ? 'sma_50' : 'sma_200';
    const actual = a?.[field] ?? null;
    const cited = Number(m[3]);
    if (a && actual !== null && Math.abs(cited / actual - 1) > 0.005)
      out.push(`cites ${a.ticker} ${m[2]} ${m[3]} but the snapshot has ${price(actual)}`);
  }
  return out;
}

interface Facts {
  by: Map<string, AssetSnapshot>;
  asset: AssetSnapshot | undefined;
  n: number;
  targetOrder: string[];
  targetRank: number;
  myRanks: Map<string, number>;
  mine: Evaluation;
  rho: number;
  ownTrade: { ticker: string; direction: string };
  stopNumbers: number[];
  /** The cited number closest to the close, in ATRs from it (null without numbers or ATR). */
  stopAtr: number | null;
  stop: number | null;
}

function gatherFacts(spec: PersonaSpec, ctx: WeekContext, pitch: Pitch, own: PmPitch | null): Facts {
  const by = assetsByTicker(ctx.snapshot);
  const tickers = ctx.universe.map((a) => a.ticker);
  const mine = evaluate(spec, ctx.snapshot, deriveRegime(ctx.snapshot), tickers);
  // Our own pitch is our stated view; without one, the persona's fresh evaluation is.
  const myRanks = rankMap(own ? own.instrument_ranking : mine.ranked);
  const targetOrder = ordered(pitch);
  const trade = pitch.selected_trade;
  const asset = by.get(trade.ticker);
  const stopNumbers = priceNumbers(trade.invalidation_rule_this_week).filter(
    (v) => !asset || (v > asset.last_close * 0.5 && v < asset.last_close * 1.5),
  );
  let stop: number | null = null;
  for (const v of stopNumbers)
    if (asset && v !== asset.last_close && (stop === null || Math.abs(v - asset.last_close) < Math.abs(stop - asset.last_close))) stop = v;
  const atr = asset?.atr_14 ?? null;
  return {
    by,
    asset,
    n: targetOrder.length,
    targetOrder,
    targetRank: targetOrder.indexOf(trade.ticker) + 1,
    myRanks,
    mine,
    rho: spearman(rankMap(pitch.instrument_ranking), myRanks),
    ownTrade: own
      ? { ticker: own.selected_trade.ticker, direction: own.selected_trade.direction }
      : { ticker: mine.selected.ticker, direction: mine.selection.direction },
    stopNumbers,
    stop,
    stopAtr: stop !== null && asset && atr ? Math.abs(stop - asset.last_close) / atr : null,
  };
}

/**
 * How well the trade follows the pitch's own ranking: `place` is the ticker's rank counted from the
 * top for a LONG and from the bottom for a SHORT. FLAT takes no ranked bet, so it is neutral.
 */
function alignmentScore(direction: string, place: number): number {
  if (direction === 'FLAT') return 6;
  if (place === 1) return 10;
  if (place <= 3) return 8;
  if (place <= 5) return 5;
  return 2;
}

function scoreRubric(pitch: Pitch, x: Facts, integrity: { recognized: number; total: number; mismatches: number }): Scores {
  const trade = pitch.selected_trade;
  const dir = trade.direction;
  const a = x.asset;
  const n = Math.max(2, x.n);
  const bullets = trade.thesis_bullets;
  const numeric = bullets.filter((b) => /\d/.test(b)).length / bullets.length;
  const myRank = x.myRanks.get(trade.ticker) ?? Math.ceil(n / 2);
  const fromBottom = n - x.targetRank + 1;
  const hist = a?.macd?.histogram ?? 0;
  const momentumVotes = [hist, a?.returns.w1 ?? 0, a?.returns.d1 ?? 0].filter((v) => (dir === 'SHORT' ? v < 0 : v > 0)).length;
  const atrPct = a?.atr_pct ?? null;
  const sameTicker = trade.ticker === x.ownTrade.ticker;

  return {
    clarity: score(3 + 5 * numeric + (bullets.length >= 3 ? 1 : 0) + (x.stopNumbers.length > 0 ? 1 : 0)),
    // Our own rank of their ticker: a LONG on our #1 is plausible edge, a LONG on our last is not.
    edge_plausibility: dir === 'FLAT' ? 5 : score(dir === 'LONG' ? 10 - (8 * (myRank - 1)) / (n - 1) : 2 + (8 * (myRank - 1)) / (n - 1)),
    // Short-term momentum agreeing with the trade (MACD histogram, 1w, 1d): 3, 5, 7 or 9.
    timing_catalyst: dir === 'FLAT' ? 5 : 3 + 2 * momentumVotes,
    // A numeric stop 0.3–3 ATR away is checkable and sized for a week; no number cannot be checked.
    risk_definition:
      x.stopNumbers.length === 0 ? 3 : x.stopAtr === null ? 6 : x.stopAtr >= 0.3 && x.stopAtr <= 3 ? 9 : x.stopAtr <= 6 ? 7 : 5,
    indicator_integrity: score(1 + (9 * integrity.recognized) / Math.max(1, integrity.total) - 3 * integrity.mismatches),
    originality: dir === 'FLAT' ? 4 : sameTicker && x.ownTrade.direction === dir ? 3 : sameTicker ? 7 : 8,
    // Daily range as a share of price: calm instruments fill and hold stops cleanly.
    tradeability:
      dir === 'FLAT' ? 5 : atrPct === null ? 5 : atrPct <= 0.0075 ? 9 : atrPct <= 0.015 ? 8 : atrPct <= 0.025 ? 6 : atrPct <= 0.04 ? 4 : 3,
    ranking_quality: score(5.5 + 4.5 * x.rho),
    ranking_trade_alignment: alignmentScore(dir, dir === 'SHORT' ? fromBottom : x.targetRank),
  };
}

function verdict(meanRank: number, n: number): string {
  if (meanRank <= n * 0.35) return 'reasonable';
  if (meanRank <= n * 0.6) return 'partly reasonable';
  return 'questionable';
}

function groupAssessment(label: string, tickers: readonly string[], x: Facts): string {
  const ranks = tickers.map((t) => x.myRanks.get(t));
  const known = ranks.filter((r): r is number => r !== undefined);
  const mean = known.length > 0 ? known.reduce((s, r) => s + r, 0) / known.length : x.n / 2;
  const judged = label === 'Top 3' ? verdict(mean, x.n) : verdict(x.n + 1 - mean, x.n);
  const facts = tickers.map((t) => (x.by.get(t) ? quickFacts(x.by.get(t) as AssetSnapshot) : `${t} n/a`)).join('; ');
  return `${label} ${tickers.join(', ')} are #${ranks.map((r) => r ?? '?').join(', #')} in my ranking: ${judged} (Spearman rho ${signedNum(x.rho)} overall). ${facts}.`;
}

function missingLogic(pitch: Pitch, x: Facts, mismatches: string[]): string[] {
  const flags: string[] = [];
  const trade = pitch.selected_trade;
  const a = x.asset;
  if (trade.direction === 'LONG' && x.targetRank > 3) flags.push(`LONG ${trade.ticker} is only #${x.targetRank} in its own ranking`);
  if (trade.direction === 'SHORT' && x.targetRank < x.n - 2)
    flags.push(`SHORT ${trade.ticker} is #${x.targetRank} of ${x.n}, not in its own bottom 3`);
  if (x.stopNumbers.length === 0) flags.push('invalidation rule names no price or indicator level');
  const thesis = trade.thesis_bullets.join(' ');
  if (a && a.rsi_14 !== null && trade.direction === 'LONG' && a.rsi_14 >= 70 && !/RSI/.test(thesis))
    flags.push(`LONG into RSI ${rsi(a.rsi_14)} (overbought) without addressing it`);
  if (a && a.rsi_14 !== null && trade.direction === 'SHORT' && a.rsi_14 <= 30 && !/RSI/.test(thesis))
    flags.push(`SHORT into RSI ${rsi(a.rsi_14)} (oversold) without addressing it`);
  if (a && a.sma_200 !== null && trade.direction === 'LONG' && a.last_close < a.sma_200)
    flags.push(`LONG ${trade.ticker} below its SMA200 ${price(a.sma_200)}`);
  if (a && a.sma_200 !== null && trade.direction === 'SHORT' && a.last_close > a.sma_200)
    flags.push(`SHORT ${trade.ticker} above its SMA200 ${price(a.sma_200)}`);
  if (x.rho < 0) flags.push(`ranking runs against mine (Spearman rho ${signedNum(x.rho)})`);
  return [...flags, ...mismatches];
}

function consistency(pitch: Pitch, x: Facts): PeerReview['trade_choice_assessment']['consistency_with_ranking'] {
  const trade = pitch.selected_trade;
  if (trade.direction === 'FLAT') return 'CONSISTENT';
  const aligned = trade.direction === 'LONG' ? x.targetRank <= 3 : x.targetRank >= x.n - 2;
  if (aligned) return 'CONSISTENT';
  const explained = trade.thesis_bullets.some((b) => b.includes(trade.ticker) && /\d/.test(b));
  return explained ? 'INCONSISTENT_BUT_JUSTIFIED' : 'INCONSISTENT_UNJUSTIFIED';
}

function invalidationQuality(pitch: Pitch, x: Facts): string {
  const a = x.asset;
  if (x.stopNumbers.length === 0 || x.stop === null || !a)
    return 'No numeric level: the rule cannot be checked mechanically at a checkpoint.';
  const atrText = x.stopAtr === null ? '' : ` (${x.stopAtr.toFixed(1)} ATR)`;
  const fit =
    x.stopAtr === null
      ? 'checkable'
      : x.stopAtr < 0.3
        ? 'too tight: inside normal daily noise'
        : x.stopAtr <= 3
          ? `sized for a ${pitch.selected_trade.horizon} horizon`
          : 'loose: a large loss before it fires';
  return `Names ${price(x.stop)}, ${signedPct(x.stop / a.last_close - 1)}${atrText} from the ${price(a.last_close)} close: ${fit}.`;
}

/** The most likely way the trade fails within 7 days, with numbers. */
function killShot(pitch: Pitch, x: Facts): string {
  const trade = pitch.selected_trade;
  const a = x.asset;
  if (!a) return `${trade.ticker} has no snapshot data: the trade cannot be monitored.`;
  const f = features(a);
  const sigma = f.vol * Math.sqrt(5 / 252);
  if (trade.direction === 'FLAT') {
    const best = x.mine.ranked[0];
    const bestAsset = best ? x.by.get(best.ticker) : undefined;
    return bestAsset
      ? `Opportunity cost: ${bestAsset.ticker} (my #1) moved ${signedPct(bestAsset.returns.m1)} in a month; a week of a quarter of that is ${signedPct((bestAsset.returns.m1 ?? 0) / 4)} that cash misses.`
      : 'Opportunity cost: cash earns nothing while the universe moves.';
  }
  const down = trade.direction === 'LONG';
  const target = a.last_close * (down ? 1 - sigma : 1 + sigma);
  const through = x.stop !== null && (down ? target < x.stop : target > x.stop);
  const stopClause =
    x.stop === null ? '' : through ? `, through the stated stop ${price(x.stop)}` : `, toward the stated stop ${price(x.stop)}`;
  const reasons: string[] = [];
  if (a.rsi_14 !== null && (down ? a.rsi_14 >= 65 : a.rsi_14 <= 35)) reasons.push(`RSI ${rsi(a.rsi_14)} is stretched`);
  if (a.macd && (down ? a.macd.histogram < 0 : a.macd.histogram > 0))
    reasons.push(`MACD histogram already ${down ? 'negative' : 'positive'} at ${signedNum(a.macd.histogram, 3)}`);
  if (f.stretchAtr !== null && (down ? f.stretchAtr > 1.5 : f.stretchAtr < -1.5))
    reasons.push(`price is ${Math.abs(f.stretchAtr).toFixed(1)} ATR from SMA20 ${price(a.sma_20)}`);
  const why = reasons.length > 0 ? ` (${reasons.join('; ')})` : '';
  return `${trade.ticker} ${down ? 'falls' : 'rises'} one weekly sigma, ${pct(sigma)} at ${pct(f.vol)} vol, to ${price(target)}${stopClause}${why}.`;
}

function flipCondition(pitch: Pitch, x: Facts): string {
  const trade = pitch.selected_trade;
  const a = x.asset;
  if (!a) return `Bars for ${trade.ticker} in the next snapshot.`;
  const myRank = x.myRanks.get(trade.ticker) ?? x.n;
  const above = levelAbove(a);
  const below = levelBelow(a);
  const up = above
    ? `${trade.ticker} closes above ${levelName(above)} at ${price(above.value)}`
    : `${trade.ticker} makes a new 52w high above ${price(a.last_close)}`;
  const dn = below
    ? `${trade.ticker} closes below ${levelName(below)} at ${price(below.value)}`
    : `${trade.ticker} makes a new 52w low under ${price(a.last_close)}`;
  if (trade.direction === 'FLAT') return `I would want exposure if ${up}.`;
  const agree = trade.direction === 'LONG' ? myRank <= 3 : myRank >= x.n - 2;
  if (trade.direction === 'LONG') return agree ? `I would turn against it if ${dn}.` : `I would back it if ${up}.`;
  return agree ? `I would turn against it if ${up}.` : `I would back it if ${dn}.`;
}

function suggestedFix(pitch: Pitch, x: Facts, scores: Scores): string {
  const trade = pitch.selected_trade;
  const a = x.asset;
  const weakest = RUBRIC.reduce<RubricKey>((w, k) => (scores[k] < scores[w] ? k : w), 'clarity');
  const support = a ? levelBelow(a) : null;
  // With nothing scored below 8 the pitch is sound: suggest risk hygiene rather than invent a flaw.
  switch (scores[weakest] >= 8 ? 'none' : weakest) {
    case 'risk_definition':
      return support && a
        ? `State the stop as a price: e.g. a close below ${levelName(support)} at ${price(support.value)} (${signedPct(support.value / a.last_close - 1)}).`
        : 'State the stop as a price level from the snapshot.';
    case 'ranking_trade_alignment':
      return `Either select from its top 3 (${x.targetOrder.slice(0, 3).join(', ')}) or explain why #${x.targetRank} ${trade.ticker} beats them.`;
    case 'tradeability':
      return `Cut size: ${trade.ticker} ATR is ${pct(a?.atr_pct ?? null, 2)} of price; conviction 1 or a tighter stop.`;
    case 'timing_catalyst':
      return `Wait for momentum to confirm: MACD histogram ${signedNum(a?.macd?.histogram ?? null, 3)} and 1w ${signedPct(a?.returns.w1 ?? null)} do not yet support a ${trade.direction} entry; consider INTRADAY on a pullback${support ? ` toward ${price(support.value)}` : ''}.`;
    case 'originality':
      return trade.direction === 'FLAT'
        ? 'Name the condition that would put capital to work this week.'
        : `This is the consensus idea (${trade.ticker}); add what the others are missing or size it down.`;
    case 'ranking_quality':
    case 'edge_plausibility': {
      const mineTop = x.mine.ranked
        .slice(0, 3)
        .map((r) => r.ticker)
        .join(', ');
      return `Address the counter-evidence in the ranking: my top 3 are ${mineTop}; ${a ? quickFacts(a) : trade.ticker}.`;
    }
    default:
      if (trade.direction === 'FLAT') return 'Name the price level that would put capital to work this week.';
      return support && a
        ? `Tighten the invalidation to ${levelName(support)} at ${price(support.value)} and add a time stop at the ${trade.horizon} horizon.`
        : `Add a time stop at the ${trade.horizon} horizon.`;
  }
}

export function buildReview(
  spec: PersonaSpec,
  reviewerModel: string,
  ctx: WeekContext,
  target: AnonymizedPitch,
  own: PmPitch | null,
): PeerReview {
  const pitch = target.pitch;
  const x = gatherFacts(spec, ctx, pitch, own);
  const names = pitch.monitoring_plan.key_indicators.map((k) => k.name);
  const recognized = names.filter((name) => INDICATOR_WORDS.test(name)).length;
  const texts = [...names, pitch.selected_trade.invalidation_rule_this_week];
  const mismatches = [...new Set(texts.flatMap((t) => levelMismatches(t, x.by, x.asset)))];
  const scores = scoreRubric(pitch, x, { recognized, total: names.length, mismatches: mismatches.length });
  const trade = pitch.selected_trade;
  const bulletsWithNumbers = trade.thesis_bullets.filter((b) => /\d/.test(b)).length;
  const myRow = x.mine.ranked.find((r) => r.ticker === trade.ticker);
  const myRank = x.myRanks.get(trade.ticker);
  const supports =
    myRank !== undefined && (trade.direction === 'LONG' ? myRank <= 3 : trade.direction === 'SHORT' ? myRank >= x.n - 2 : false);
  const review: PeerReview = {
    week_id: ctx.week_id,
    asof_et: ctx.asof_et,
    reviewer_model: reviewerModel,
    pitch_id: target.pitch_id,
    scores,
    ranking_assessment: {
      top3_reasonableness: groupAssessment('Top 3', x.targetOrder.slice(0, 3), x),
      bottom3_reasonableness: groupAssessment('Bottom 3', x.targetOrder.slice(-3), x),
      missing_logic_flags: missingLogic(pitch, x, mismatches),
    },
    trade_choice_assessment: {
      consistency_with_ranking: consistency(pitch, x),
      justification_quality:
        `${bulletsWithNumbers} of ${trade.thesis_bullets.length} thesis bullets cite numbers. ` +
        (myRow ? `My view of ${trade.ticker}: #${myRank ?? '?'} of ${x.n}, ${myRow.reason}; ` : `${trade.ticker} is not in my ranking; `) +
        (trade.direction === 'FLAT'
          ? 'no position to justify.'
          : `that ${supports ? 'supports' : 'does not support'} the ${trade.direction} call.`),
      invalidation_quality: invalidationQuality(pitch, x),
    },
    kill_shot: killShot(pitch, x),
    one_flip_condition: flipCondition(pitch, x),
    suggested_fix: suggestedFix(pitch, x, scores),
  };
  return PeerReview.parse(review);
}
