import type { App } from '../app.js';
import type { Reconciliation } from '../ports/broker.js';
import type { ChairmanDecision, ResearchPack } from '../schemas/index.js';
import { STAGES, type StageName, type StageOutputs } from './stage.js';
import { portfolioWeekUsage, type WeekUsage } from './week-usage.js';
import type { WeekInfo } from './week.js';
import type { SeatStatus } from './fan-out.js';
import { accountAgents } from './account-agents.js';
import { orderJson, positionJson, type OrderJson, type OrderRequestJson, type PositionJson } from '../broker/order-json.js';
import { measurePostmortem, PostmortemError, type Postmortem } from '../metrics/postmortem.js';

/** The `run_weekly --json` result (DESIGN §2). Extra fields are additive; the documented ones are stable. */
export interface WeeklyResult {
  /** The portfolio the week was run in. */
  portfolio: string;
  week_id: string;
  asof_et: string;
  /** `pending_open`: decided and sized, the orders wait for the fill day's open (no bar for it in the data yet). */
  status: 'completed' | 'partial' | 'failed' | 'pending_open';
  /** With `pending_open`: the orders the execution will place at the open, with the ids it will give them. */
  pending_orders?: OrderRequestJson[];
  mode: string;
  /** The broker the accounts trade on: `sim` (simulated), `alpaca` (paper accounts or sub-ledgers of one). */
  broker: string;
  data_through: string;
  fill_date: string;
  stages: Record<StageName, 'completed' | 'pending'>;
  /** `fallback` is set when the research seat failed and the offline analyst wrote the pack. */
  research: (ResearchPack & { provider: string; model: string; fallback?: { provider: string; model: string; error: string } }) | null;
  pitches: { seat: string; provider: string; model: string; status: 'ok' | 'failed'; pitch: unknown; error?: string }[];
  reviews: { reviewer: string; pitch_id: string; target_seat: string; review: unknown; status: 'ok' | 'failed'; error?: string }[];
  aggregate: { seat: string; mean_rank: number | null; mean_score: number | null; votes: number }[];
  decision: (ChairmanDecision & { provider: string; model: string }) | null;
  accounts: {
    account_id: number;
    owner: string;
    /** What sat in the owner's seat this week: the model id, or the offline persona (`offline/trend`). */
    agent: string | null;
    trade: { ticker: string; direction: string; conviction: number } | null;
    order: OrderJson | null;
    orders: OrderJson[];
    position: PositionJson | null;
    equity: number | null;
    cash: number | null;
    notes: string | null;
    /** The owner failed this week: the account went flat (or held, per risk.on_seat_failure). */
    seat_failed: boolean;
  }[];
  /** Every LLM call of the week (failed attempts, re-asks and cache hits included), in total and per seat. */
  usage: WeekUsage;
  /**
   * The week's result as the postmortem measures it (same definitions, same numbers: from the
   * data_through close to the close of the week's last session, SPY bought at the data_through close),
   * once the week's last close is in the market data; null before. `llm-trading postmortem` has the
   * full measurement. Null in a whole week (`week`, backtests), whose postmortem follows the checkpoints.
   */
  held_to_week_end: HeldToWeekEnd | null;
  /**
   * Alpaca's sub-ledger mode: the six sub-ledgers against the one paper account after the execution
   * (differences stated, never hidden). Absent for brokers whose accounts are the broker's own.
   */
  reconciliation?: Reconciliation;
  /** The command was refused before anything was written (missing inputs, a week in the portfolio's past). */
  refused?: boolean;
  /**
   * The stage that stopped the run, when one failed (its output was not kept); for a missed quorum,
   * `seats` lists each seat (for peer_review, each reviewer), whether it answered, and why not.
   */
  failed_stage?: { stage: StageName; error: string; seats?: SeatStatus[] };
  error?: string;
}

export interface HeldToWeekEnd {
  date: string;
  accounts: { account_id: number; owner: string; agent: string; equity: number; pnl: number; pnl_pct: number }[];
  benchmarks: { flat_pct: number; spy_buy_hold_pct: number };
  council_vs_individuals: { beat: number; of: number; individuals_mean_pnl_pct: number | null };
}

type OutputOf = <S extends StageName>(stage: S) => StageOutputs[S] | null;

export async function buildWeeklyResult(
  app: App,
  week: WeekInfo,
  status: WeeklyResult['status'],
  completed: ReadonlySet<StageName>,
  output: OutputOf,
  options: { heldToWeekEnd: boolean } = { heldToWeekEnd: true },
): Promise<WeeklyResult> {
  const research = output('research');
  const pitches = output('pm_pitches');
  const review = output('peer_review');
  const chairman = output('chairman');
  const risk = output('risk');
  const execute = output('execute');
  const stages = Object.fromEntries(STAGES.map((s) => [s, completed.has(s) ? 'completed' : 'pending'])) as WeeklyResult['stages'];

  const run = { portfolio: app.portfolio, weekId: week.week_id };
  const usage = await portfolioWeekUsage(app, run.weekId);
  const agents = accountAgents(app.config, pitches, chairman);

  const accounts: WeeklyResult['accounts'] = app.config.models.accounts.map((account) => {
    const intent = risk?.intents.find((i) => i.account_id === account.id);
    const orders = (execute?.orders ?? []).filter((o) => o.accountId === account.id).map(orderJson);
    const state = execute?.accounts.find((a) => a.accountId === account.id);
    const trade = tradeOf(account.owner, pitches, chairman);
    return {
      account_id: account.id,
      owner: account.owner,
      agent: agents.get(account.owner) ?? null,
      trade,
      // The order that opens (or adjusts to) the week's position; `orders` has every order.
      order: orders.find((o) => trade && o.ticker === trade.ticker) ?? orders.at(-1) ?? null,
      orders,
      position: state?.positions[0] ? positionJson(state.positions[0]) : null,
      equity: state?.equity ?? null,
      cash: state?.cash ?? null,
      notes: intent?.notes ?? null,
      seat_failed: intent?.seat_failed === true,
    };
  });

  return {
    portfolio: app.portfolio,
    week_id: week.week_id,
    asof_et: week.asof_et,
    status,
    mode: app.agents.mode,
    broker: app.broker.name,
    data_through: week.data_through,
    fill_date: week.fill_date,
    stages,
    research: research
      ? {
          ...research.pack,
          provider: research.provider,
          model: research.model,
          ...(research.fallback ? { fallback: research.fallback } : {}),
        }
      : null,
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
    held_to_week_end: execute && options.heldToWeekEnd ? await heldToWeekEnd(app, week) : null,
    ...(execute?.reconciliation ? { reconciliation: execute.reconciliation } : {}),
  };
}

/** The postmortem's own measurement, once the week is over in the data (see WeeklyResult.held_to_week_end). */
async function heldToWeekEnd(app: App, week: WeekInfo): Promise<HeldToWeekEnd | null> {
  let postmortem: Postmortem;
  try {
    postmortem = await measurePostmortem(app, week);
  } catch (error) {
    if (error instanceof PostmortemError) return null;
    throw error;
  }
  if (!postmortem.complete) return null;
  const vs = postmortem.council_vs_individuals;
  return {
    date: postmortem.week_end,
    accounts: postmortem.accounts.map((a) => ({
      account_id: a.account_id,
      owner: a.owner,
      agent: a.agent,
      equity: a.end_equity,
      pnl: a.pnl,
      pnl_pct: a.pnl_pct,
    })),
    benchmarks: { flat_pct: postmortem.benchmarks.flat.pnl_pct, spy_buy_hold_pct: postmortem.benchmarks.spy_buy_hold.pnl_pct },
    council_vs_individuals: { beat: vs.beat, of: vs.of, individuals_mean_pnl_pct: vs.individuals_mean_pnl_pct },
  };
}

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
