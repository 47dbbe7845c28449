import type { App } from '../app.js';
import { llmUsageOfWeek } from '../llm/index.js';
import type { AccountState, OrderResult } from '../ports/broker.js';
import type { ChairmanDecision, ResearchPack } from '../schemas/index.js';
import { addUsage, STAGES, ZERO_USAGE, type StageName, type StageOutputs, type Usage } from './stage.js';
import type { WeekInfo } from './week.js';
import type { Db } from '../storage/db.js';
import type { SeatStatus } from './fan-out.js';

/** The `run_weekly --json` result (DESIGN §2). Extra fields are additive; the documented ones are stable. */
export interface WeeklyResult {
  week_id: string;
  asof_et: string;
  status: 'completed' | 'partial' | 'failed';
  mode: string;
  data_through: string;
  fill_date: string;
  stages: Record<StageName, 'completed' | 'pending'>;
  research: (ResearchPack & { provider: string; model: string }) | null;
  pitches: { seat: string; provider: string; model: string; status: 'ok' | 'failed'; pitch: unknown; error?: string }[];
  reviews: { reviewer: string; pitch_id: string; target_seat: string; review: unknown; status: 'ok' | 'failed'; error?: string }[];
  aggregate: { seat: string; mean_rank: number | null; mean_score: number | null; votes: number }[];
  decision: (ChairmanDecision & { provider: string; model: string }) | null;
  accounts: {
    account_id: number;
    owner: string;
    trade: { ticker: string; direction: string; conviction: number } | null;
    order: OrderResult | null;
    orders: OrderResult[];
    position: AccountState['positions'][number] | null;
    equity: number | null;
    cash: number | null;
    notes: string | null;
  }[];
  /** Every LLM call of the week (failed attempts, re-asks and cache hits included), in total and per seat. */
  usage: Usage & { cache_hits: number; by_seat: SeatUsage[] };
  /**
   * Each account's equity if the week's positions were held untouched to the close of the last session
   * of the week (no checkpoints), with the FLAT and SPY buy-and-hold benchmarks. Null while the week's
   * end is not in the market data. A preview, not the postmortem: checkpoints may change positions.
   */
  held_to_week_end: HeldToWeekEnd | null;
  /**
   * The stage that stopped the run, when one failed (its output was not kept); for a missed quorum,
   * `seats` lists each seat (for peer_review, each reviewer), whether it answered, and why not.
   */
  failed_stage?: { stage: StageName; error: string; seats?: SeatStatus[] };
  error?: string;
}

export interface SeatUsage {
  stage: string;
  seat: string;
  calls: number;
  cache_hits: number;
  failed_calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  latency_ms: number;
  cost_incomplete: boolean;
}

export interface HeldToWeekEnd {
  date: string;
  accounts: { account_id: number; owner: string; equity: number; pnl: number; pnl_pct: number }[];
  benchmarks: { flat_pct: number; spy_buy_hold_pct: number };
}

type OutputOf = <S extends StageName>(stage: S) => StageOutputs[S] | null;

export async function buildWeeklyResult(
  app: App,
  week: WeekInfo,
  status: WeeklyResult['status'],
  completed: ReadonlySet<StageName>,
  output: OutputOf,
): Promise<WeeklyResult> {
  const research = output('research');
  const pitches = output('pm_pitches');
  const review = output('peer_review');
  const chairman = output('chairman');
  const risk = output('risk');
  const execute = output('execute');
  const stages = Object.fromEntries(STAGES.map((s) => [s, completed.has(s) ? 'completed' : 'pending'])) as WeeklyResult['stages'];

  const usage = await weekUsage(app.store.db, week.week_id);

  const accounts: WeeklyResult['accounts'] = app.config.models.accounts.map((account) => {
    const intent = risk?.intents.find((i) => i.account_id === account.id);
    const orders = execute?.orders.filter((o) => o.accountId === account.id) ?? [];
    const state = execute?.accounts.find((a) => a.accountId === account.id);
    const trade = tradeOf(account.owner, pitches, chairman);
    return {
      account_id: account.id,
      owner: account.owner,
      trade,
      // The order that opens (or adjusts to) the week's position; `orders` has every order.
      order: orders.find((o) => trade && o.ticker === trade.ticker) ?? orders.at(-1) ?? null,
      orders,
      position: state?.positions[0] ?? null,
      equity: state?.equity ?? null,
      cash: state?.cash ?? null,
      notes: intent?.notes ?? null,
    };
  });

  return {
    week_id: week.week_id,
    asof_et: week.asof_et,
    status,
    mode: app.agents.mode,
    data_through: week.data_through,
    fill_date: week.fill_date,
    stages,
    research: research ? { ...research.pack, provider: research.provider, model: research.model } : null,
    pitches: (pitches?.pitches ?? []).map((p) => ({
      seat: p.seat,
      provider: p.provider,
      model: p.model,
      status: p.status,
      pitch: p.pitch,
      ...(p.error ? { error: p.error } : {}),
    })),
    reviews: (review?.reviews ?? []).map((r) => ({
      reviewer: r.reviewer,
      pitch_id: r.pitch_id,
      target_seat: r.target_seat,
      review: r.review,
      status: r.status,
      ...(r.error ? { error: r.error } : {}),
    })),
    aggregate: (review?.aggregate ?? []).map((a) => ({ seat: a.seat, mean_rank: a.mean_rank, mean_score: a.mean_score, votes: a.votes })),
    decision: chairman ? { ...chairman.decision, provider: chairman.provider, model: chairman.model } : null,
    accounts,
    usage,
    held_to_week_end: execute ? await heldToWeekEnd(app, week, execute) : null,
  };
}

/** Every LLM call of a week, in total and per (stage, seat): for `--json`, `status` and the postmortem. */
export async function weekUsage(db: Db, weekId: string): Promise<WeeklyResult['usage']> {
  const by_seat: SeatUsage[] = (await llmUsageOfWeek(db, weekId)).map((u) => ({
    stage: u.stage,
    seat: u.seat,
    calls: u.calls,
    cache_hits: u.cacheHits,
    failed_calls: u.failedCalls,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    reasoning_tokens: u.reasoningTokens,
    cached_tokens: u.cachedTokens,
    cost_usd: u.costUsd,
    latency_ms: u.latencyMs,
    cost_incomplete: u.costIncomplete,
  }));
  const total = by_seat.reduce(
    (sum, u) =>
      addUsage(sum, { calls: u.calls, prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, cost_usd: u.cost_usd }),
    ZERO_USAGE,
  );
  return { ...total, cache_hits: by_seat.reduce((n, u) => n + u.cache_hits, 0), by_seat };
}

async function heldToWeekEnd(app: App, week: WeekInfo, execute: StageOutputs['execute']): Promise<HeldToWeekEnd | null> {
  const benchmark = app.config.assets.benchmark;
  // Only once every instrument has its week-end bar (the bundled UUP and USO end earlier than SPY).
  const { last } = await app.marketData.coverage([...app.config.tickers, benchmark]);
  if (last < week.week_end) return null;
  const close = async (ticker: string) => (await app.marketData.priceAt(ticker, week.week_end, '16:00')).price;
  const accounts: HeldToWeekEnd['accounts'] = [];
  for (const state of execute.accounts) {
    let equity = state.cash;
    for (const p of state.positions) equity += p.qty * (await close(p.ticker));
    const start = app.config.models.risk.starting_cash;
    const owner = app.config.models.accounts.find((a) => a.id === state.accountId)?.owner ?? '?';
    accounts.push({
      account_id: state.accountId,
      owner,
      equity: round2(equity),
      pnl: round2(equity - start),
      pnl_pct: round4((equity - start) / start),
    });
  }
  const spyOpen = (await app.marketData.priceAt(benchmark, week.fill_date, '09:30')).price;
  return { date: week.week_end, accounts, benchmarks: { flat_pct: 0, spy_buy_hold_pct: round4((await close(benchmark)) / spyOpen - 1) } };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

function tradeOf(
  owner: string,
  pitches: StageOutputs['pm_pitches'] | null,
  chairman: StageOutputs['chairman'] | null,
): WeeklyResult['accounts'][number]['trade'] {
  if (owner === 'council') {
    if (!chairman) return null;
    const { selected_trade, conviction } = chairman.decision;
    return { ticker: selected_trade.ticker, direction: selected_trade.direction, conviction };
  }
  const pitch = pitches?.pitches.find((p) => p.seat === owner)?.pitch;
  return pitch
    ? { ticker: pitch.selected_trade.ticker, direction: pitch.selected_trade.direction, conviction: pitch.selected_trade.conviction }
    : null;
}
