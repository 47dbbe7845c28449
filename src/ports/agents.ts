import type { MarketSnapshot } from '../market/types.js';
import type {
  ChairmanDecision,
  CheckpointAction,
  CheckpointUpdate,
  InvalidationTrigger,
  PeerReview,
  PmPitch,
  ResearchPack,
} from '../schemas/index.js';

export interface Asset {
  ticker: string;
  category: string;
  name: string;
}

/** What every agent call of a week can see. Built from bars strictly before the decision time. */
export interface WeekContext {
  week_id: string;
  asof_et: string;
  universe: readonly Asset[];
  snapshot: MarketSnapshot;
}

/** Usage of one model call; offline agents report zeros. */
export interface CallUsage {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

/** Every agent answer carries its output, the identity that produced it, and usage. */
export interface AgentResult<T> {
  output: T;
  provider: string; // 'offline' | 'requesty' | 'openrouter' | ...
  model: string; // e.g. 'offline/trend' or 'openai/gpt-5.1'
  usage: CallUsage;
  /**
   * The text the model answered, kept for the audit trail (event log and runs/<week>/raw/). Null for
   * an agent with no answer text of its own: an offline agent's output is its whole record, and
   * storing its JSON again as a "raw answer" was a sixth of a backtest's writes.
   */
  raw: string | null;
}

export interface CallOptions {
  signal: AbortSignal;
}

export interface Researcher {
  research(ctx: WeekContext, opts: CallOptions): Promise<AgentResult<ResearchPack>>;
}

/** A pitch as a reviewer sees it: anonymized label, no seat or model name. */
export interface AnonymizedPitch {
  pitch_id: string;
  pitch: Omit<PmPitch, 'pm_model'>;
}

/** One indicator at a checkpoint: its value now and at the previous checkpoint (or the weekly decision). */
export interface IndicatorReading {
  name: string;
  value: number;
  previous: number | null;
}

/** The engine's evaluation of the owner's machine-checkable trigger at the checkpoint. */
export interface TriggerVerdict {
  trigger: InvalidationTrigger;
  /** The measure's value at the checkpoint; null when it cannot be computed (the trigger then does not fire). */
  observed: number | null;
  fired: boolean;
  /** e.g. "SPY price 594.10 below 596.95: fired". */
  text: string;
}

/** The account's position as it is knowable at the checkpoint's instant (fills before it, marked at the last print). */
export interface CheckpointPosition {
  ticker: string;
  direction: 'LONG' | 'SHORT';
  /** Signed shares. */
  qty: number;
  avg_entry_price: number;
  /** The last printed price knowable at the checkpoint (see MarketData.lastPrintAt). */
  price: number;
  /** Where the price comes from, e.g. "2024-03-07 open" or "2024-03-06 close". */
  price_source: string;
  unrealized_pnl: number;
  /** The position's return since entry, signed for the position (a short gains when the price falls). */
  return_since_entry: number;
  equity: number;
}

/**
 * What an account's owner sees at a checkpoint. HARD RULE: no new research mid-week — there is no
 * research pack and no researcher here, only the owner's own week plan, the position and indicators.
 */
export interface CheckpointContext {
  week_id: string;
  /** The checkpoint's instant in America/New_York, e.g. 2024-03-07T12:00:00-05:00. */
  checkpoint_et: string;
  date: string;
  time: string;
  account_id: number;
  owner: string;
  universe: readonly Asset[];
  conviction_before: number;
  /** The week's horizon of the trade (from the pitch or the decision). */
  horizon: '1D' | '3D' | '1W';
  position: CheckpointPosition;
  thesis_bullets: readonly string[];
  invalidation_rule: string;
  key_indicators: readonly { name: string; expected_signal: string; flip_condition: string }[];
  /** The week's frozen indicator set at this checkpoint. */
  indicators: readonly IndicatorReading[];
  /** null when the owner's plan has no machine-checkable trigger. */
  trigger: TriggerVerdict | null;
}

/** What the owner answered; the engine records it and decides what is applied. */
export type CheckpointAnswer = CheckpointUpdate;
export type { CheckpointAction };

export interface PortfolioManager {
  readonly seat: string;
  pitch(ctx: WeekContext, research: ResearchPack, opts: CallOptions): Promise<AgentResult<PmPitch>>;
  /** Review one anonymized pitch of another PM. `own` is this PM's own pitch, as its point of view. */
  review(ctx: WeekContext, target: AnonymizedPitch, own: PmPitch | null, opts: CallOptions): Promise<AgentResult<PeerReview>>;
  /** Update conviction on this PM's own account at a checkpoint (STAY | EXIT | FLIP | REDUCE). */
  checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>>;
}

/** A pitch with everything the chairman may see after review is complete (de-anonymized). */
export interface ReviewedPitch {
  seat: string;
  model: string;
  pitch_id: string; // the seat's canonical id for the chairman, e.g. "P1"
  pitch: PmPitch;
  reviews: PeerReview[];
  mean_rank: number;
  mean_score: number;
  votes: number;
}

export interface Chairman {
  decide(
    ctx: WeekContext,
    research: ResearchPack,
    pitches: readonly ReviewedPitch[],
    opts: CallOptions,
  ): Promise<AgentResult<ChairmanDecision>>;
  /** Update the council account's conviction at a checkpoint. */
  checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>>;
}
