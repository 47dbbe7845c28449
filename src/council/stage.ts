import type { AppConfig } from '../config/app-config.js';
import type { MarketSnapshot } from '../market/types.js';
import type { Chairman, PortfolioManager, Researcher, WeekContext } from '../ports/agents.js';
import type { AccountState, Broker, OrderResult, Reconciliation } from '../ports/broker.js';
import type { SimulatedClock } from '../ports/clock.js';
import type { MarketData } from '../ports/market-data.js';
import type { PortfolioLedger } from '../ledger/portfolio-ledger.js';
import type { ChairmanDecision, Direction, PeerReview, PmPitch, ResearchPack } from '../schemas/index.js';
import type { Store, Tx } from '../storage/db.js';
import type { RunKey } from '../storage/run-key.js';
import type { AggregateRow } from './aggregation.js';
import type { LabelAssignment } from './anonymizer.js';
import type { ProgressEvent } from './progress.js';
import type { WeekInfo } from './week.js';

/** The weekly stages, in pipeline order. */
export const STAGES = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
export type StageName = (typeof STAGES)[number];

export interface Usage {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface SeatPitch {
  seat: string;
  provider: string;
  model: string;
  status: 'ok' | 'failed';
  pitch: PmPitch | null;
  error?: string;
  usage: Usage;
  ms: number;
}

export interface ReviewEntry {
  reviewer: string;
  pitch_id: string;
  target_seat: string;
  status: 'ok' | 'failed';
  review: PeerReview | null;
  error?: string;
  usage: Usage;
}

export interface TradeIntent {
  account_id: number;
  owner: string;
  status: 'trade' | 'skipped';
  ticker: string | null;
  direction: Direction | null;
  conviction: number | null;
  target_qty: number;
  reference_price: number | null;
  notes: string;
  /** The account's owner failed this week (its target follows risk.on_seat_failure). */
  seat_failed?: boolean;
  /** The account's equity as the decision saw it (the sizing base). */
  equity_at_decision?: number;
}

/** What each stage persists and later stages read. */
export interface StageOutputs {
  snapshot: MarketSnapshot;
  research: {
    pack: ResearchPack;
    provider: string;
    model: string;
    usage: Usage;
    /** The research seat failed and the offline analyst wrote the pack (council.research_fallback: offline). */
    fallback?: { provider: string; model: string; error: string };
  };
  pm_pitches: { pitches: SeatPitch[] };
  peer_review: { seed: string; labels: LabelAssignment[]; reviews: ReviewEntry[]; aggregate: AggregateRow[] };
  chairman: { decision: ChairmanDecision; provider: string; model: string; usage: Usage };
  risk: { intents: TradeIntent[] };
  /** `reconciliation`: the books against the broker's account, when the broker keeps sub-ledgers of one. */
  execute: { fill_date: string; orders: OrderResult[]; accounts: AccountState[]; reconciliation?: Reconciliation };
}

export interface Agents {
  researcher: Researcher;
  /** Writes the pack when an LLM researcher fails (council.research_fallback: offline); absent otherwise. */
  fallbackResearcher?: Researcher;
  pms: ReadonlyMap<string, PortfolioManager>;
  chairman: Chairman;
  /** 'offline' or the LLM provider name, recorded with the run. */
  mode: string;
  /** Who sits in each seat, for records of seats that failed before answering. */
  assignments: ReadonlyMap<string, { provider: string; model: string }>;
}

export interface PipelineContext {
  /** The portfolio whose books this run trades. */
  portfolio: string;
  week: WeekInfo;
  config: AppConfig;
  store: Store;
  marketData: MarketData;
  broker: Broker;
  clock: SimulatedClock;
  agents: Agents;
  /** The portfolio's fills and books, read incrementally. */
  ledger: PortfolioLedger;
  /** Only these accounts are executed (execute --account N); undefined = all. */
  accountFilter?: readonly number[];
  signal?: AbortSignal;
  progress(event: ProgressEvent): void;
  /** The persisted output of an earlier stage of this week. */
  output<S extends StageName>(stage: S): StageOutputs[S];
  /** What agents may see this week (snapshot from bars strictly before the decision). */
  weekContext(): WeekContext;
}

export interface RawRecord {
  name: string;
  text: string;
}

/** The raw record of an answer, or none for an agent without answer text (AgentResult.raw). */
export function rawRecord(name: string, text: string | null): RawRecord[] {
  return text === null ? [] : [{ name, text }];
}

export interface StageResult<O> {
  output: O;
  /** Verbatim agent answers, for runs/<week>/raw/ and the event log. */
  raw?: RawRecord[];
  /** One line for the progress display. */
  summary?: string;
}

export interface Stage<S extends StageName = StageName> {
  name: S;
  /** Stages whose output this stage reads. */
  inputs: readonly StageName[];
  run(ctx: PipelineContext): Promise<StageResult<StageOutputs[S]>>;
  /** Writes the queryable rows of this output; called inside the stage's transaction after `clear`. */
  persist?(tx: Tx, run: RunKey, output: StageOutputs[S]): Promise<void>;
  /** Deletes this stage's rows for the week (before a re-run, and when an upstream stage is re-run). */
  clear?(tx: Tx, run: RunKey): Promise<void>;
}

export const ZERO_USAGE: Usage = { calls: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls + b.calls,
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    cost_usd: Math.round((a.cost_usd + b.cost_usd) * 1e6) / 1e6,
  };
}
