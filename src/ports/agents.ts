import type { MarketSnapshot } from '../market/types.js';
import type { ChairmanDecision, PeerReview, PmPitch, ResearchPack } from '../schemas/index.js';

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
  /** Raw text as the agent produced it (the JSON for offline agents), kept for the audit trail. */
  raw: string;
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

export interface PortfolioManager {
  readonly seat: string;
  pitch(ctx: WeekContext, research: ResearchPack, opts: CallOptions): Promise<AgentResult<PmPitch>>;
  /** Review one anonymized pitch of another PM. `own` is this PM's own pitch, as its point of view. */
  review(ctx: WeekContext, target: AnonymizedPitch, own: PmPitch | null, opts: CallOptions): Promise<AgentResult<PeerReview>>;
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
}
