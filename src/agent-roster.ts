import { ConfigError, type AppConfig, type SeatConfig } from './config/app-config.js';
import type { Env } from './config/env.js';
import type { Agents } from './council/stage.js';
// The client and its HTTP stack (the openai SDK, undici) are loaded only when a seat is online.
import type { OpenAiCompatibleClient } from './llm/openai-compatible-client.js';
import type { LlmConfig } from './llm/llm-config.js';
import type { BacktestBudget } from './llm/backtest-budget.js';
import type { CacheOverride } from './llm/response-cache.js';
import { describeProviders, resolveProviders, secretsOf } from './llm/providers.js';
import { redactDeep } from './llm/redact.js';
import { priceFor } from './llm/usage-cost.js';
import { LlmChairman } from './pm/llm/llm-chairman.js';
import { LlmPortfolioManager } from './pm/llm/llm-portfolio-manager.js';
import { OfflineChairman } from './pm/offline/peer-weighted-chairman.js';
import { isPersonaName, OfflinePortfolioManager } from './pm/offline/offline-pm.js';
import type { LlmCallRecord, LlmCallSink } from './ports/llm.js';
import type { PortfolioManager } from './ports/agents.js';
import { PROMPTS } from './prompts/variables.js';
import { LlmResearcher } from './research/llm/llm-researcher.js';
import { OfflineResearcher } from './research/offline/macro-snapshot-researcher.js';
import type { Artifacts } from './storage/artifacts.js';
import type { Db } from './storage/db.js';

/** Who sits in each seat: provider and model, or the offline persona. */
export interface SeatAssignment {
  seat: string;
  role: SeatConfig['role'];
  provider: string; // 'offline' or a provider name
  model: string; // provider model id, or 'offline/<persona>'
  fallbacks: string[];
  keyPresent: boolean | null; // null for offline seats
  note: string | null;
  /** False when the seat cannot run as configured (only in `report` mode; a run stops instead). */
  available: boolean;
}

/** A seat meant to run on an LLM cannot (no key, no model for the router): the run stops before any call. */
export class SeatUnavailableError extends ConfigError {}

export interface AssignOptions {
  /** --offline: every seat runs its offline persona. */
  offline: boolean;
  /** --allow-offline-seats / allow_offline_seats: a seat whose provider has no key runs its persona instead of stopping the run. */
  allowOfflineSeats?: boolean;
  /** `llm-trading models`: describe a seat that cannot run (available: false) instead of throwing. */
  report?: boolean;
}

/**
 * Assigns every seat. Without --offline, a seat runs on its pinned provider (seat.provider), the
 * researcher on Perplexity when PERPLEXITY_API_KEY is set, and every other seat on the router chosen
 * by LLM_PROVIDER / the keys present; with no LLM key at all every seat is its offline persona.
 *
 * A seat meant for an LLM that cannot have one — its provider's key is missing, or the router has no
 * model for it — stops the run here, before anything is paid for, naming the seat and the variable.
 * Only with allowOfflineSeats does it run its offline persona, and then it is named by the persona
 * (`offline/trend`) in every output, never by the model it was meant to be.
 */
export function assignSeats(env: Env, config: AppConfig, llmConfig: LlmConfig, options: AssignOptions): SeatAssignment[] {
  const { offline } = options;
  const allowOffline = options.allowOfflineSeats === true || config.models.allow_offline_seats;
  const providers = new Map(describeProviders(env, llmConfig).map((p) => [p.name, p]));
  return Object.entries(config.models.seats).map(([seat, seatConfig]) => {
    const offlineSeat = (note: string | null): SeatAssignment => ({
      seat,
      role: seatConfig.role,
      provider: 'offline',
      model: `offline/${seatConfig.offline}`,
      fallbacks: [],
      keyPresent: null,
      note,
      available: true,
    });
    if (offline) return offlineSeat(null);
    const provider = seatConfig.provider ?? (seatConfig.role === 'researcher' && env.keys.perplexity ? 'perplexity' : env.llmProvider);
    if (provider === 'offline') return offlineSeat(null);
    const preset = providers.get(provider);
    if (!preset)
      throw new ConfigError(
        `config/models.yaml: seats.${seat}.provider: expected a provider of config/llm.yaml or a built-in one, got "${provider}"`,
      );
    const persona = `offline/${seatConfig.offline}`;
    const unavailable = (why: string, fix: string, model: string): SeatAssignment => {
      if (allowOffline) return offlineSeat(`${why}: runs its offline persona ${persona} (offline seats allowed)`);
      const message = `seat ${seat} cannot run on an LLM: ${why}; ${fix}, or pass --allow-offline-seats (allow_offline_seats: true in config/models.yaml) to run its offline persona ${persona}, labelled as such`;
      if (!options.report) throw new SeatUnavailableError(message);
      return {
        seat,
        role: seatConfig.role,
        provider,
        model,
        fallbacks: [],
        keyPresent: preset.keyRequired ? preset.keyPresent : null,
        note: `a run would stop: ${why} (${fix}, or --allow-offline-seats)`,
        available: false,
      };
    };
    const model = seatConfig.models[provider];
    if (!model) {
      if (seatConfig.role === 'researcher' && !seatConfig.provider)
        return unavailable(
          `PERPLEXITY_API_KEY is not set and config/models.yaml has no ${provider} model for it`,
          `set PERPLEXITY_API_KEY or add seats.${seat}.models.${provider}`,
          '-',
        );
      throw new ConfigError(`config/models.yaml: seats.${seat}.models.${provider}: expected the ${provider} model id of this seat`);
    }
    if (preset.keyRequired && !preset.keyPresent) {
      const variable = preset.keyEnv ?? 'its key variable (see .env.example)';
      return unavailable(`its provider ${provider} has no key (${variable} is not set)`, `set ${variable}`, model);
    }
    // Without a price the budget cannot estimate the seat's calls, and the cost is unknown unless the
    // provider reports it: worth saying before the run, not discovering after.
    const unpriced = priceFor(llmConfig.prices, provider, model) === undefined;
    return {
      seat,
      role: seatConfig.role,
      provider,
      model,
      fallbacks: seatConfig.fallbacks?.[provider] ?? [],
      keyPresent: preset.keyPresent,
      note: unpriced ? `no price for ${model} in config/llm.yaml: the budget cannot estimate its calls` : null,
      available: true,
    };
  });
}

export interface RosterOptions {
  offline: boolean;
  allowOfflineSeats?: boolean;
  db: Db;
  /** The portfolio whose runs make the calls (their usage, budget and audit records). */
  portfolio: string;
  artifacts: Artifacts;
  cacheOverride?: CacheOverride;
  /** A backtest's cap on all its LLM calls (with the per-run budget: both must hold). */
  backtestBudget?: BacktestBudget;
  /** Where the LLM seats' prompt templates are (default: LLM_TRADING_PROMPTS_DIR, else the packaged ones). */
  promptsDir?: string;
}

/** The prompt templates the LLM-backed seats will render (offline seats render none). */
export function promptsOfOnlineSeats(seats: readonly SeatAssignment[]): string[] {
  const names = new Set<string>();
  for (const s of seats) {
    if (s.provider === 'offline') continue;
    if (s.role === 'researcher') names.add(PROMPTS.research);
    if (s.role === 'pm') {
      names.add(PROMPTS.pmPitch);
      names.add(PROMPTS.peerReview);
    }
    if (s.role === 'chairman') names.add(PROMPTS.chairman);
  }
  return [...names];
}

export async function buildAgents(env: Env, config: AppConfig, llmConfig: LlmConfig, options: RosterOptions): Promise<Agents> {
  const seats = assignSeats(env, config, llmConfig, { offline: options.offline, allowOfflineSeats: options.allowOfflineSeats === true });
  for (const s of seats) {
    const persona = config.models.seats[s.seat]?.offline;
    if (s.role === 'pm' && (persona === undefined || !isPersonaName(persona))) {
      throw new ConfigError(`config/models.yaml: seats.${s.seat}.offline: expected one of the offline personas, got "${persona}"`);
    }
  }
  const online = seats.filter((s) => s.provider !== 'offline');
  const client = online.length > 0 ? await buildClient(env, llmConfig, options) : null;
  const seat = (name: string) => seats.find((s) => s.seat === name) as SeatAssignment;
  const llmOptions = (s: SeatAssignment) => ({
    client: client as OpenAiCompatibleClient,
    provider: s.provider,
    model: s.model,
    fallbackModels: s.fallbacks,
    temperature: config.models.seats[s.seat]?.temperature ?? 0.7,
    seat: s.seat,
    ...(options.promptsDir ? { promptsDir: options.promptsDir } : {}),
  });

  const researcherSeat = seats.find((s) => s.role === 'researcher') as SeatAssignment;
  const chairmanSeat = seats.find((s) => s.role === 'chairman') as SeatAssignment;
  const pms = new Map<string, PortfolioManager>();
  for (const name of config.pmSeats) {
    const s = seat(name);
    pms.set(
      name,
      s.provider === 'offline'
        ? new OfflinePortfolioManager(name, config.models.seats[name]?.offline as never)
        : new LlmPortfolioManager(llmOptions(s)),
    );
  }
  const providers = [...new Set(online.map((s) => s.provider))];
  return {
    researcher: researcherSeat.provider === 'offline' ? new OfflineResearcher() : new LlmResearcher(llmOptions(researcherSeat)),
    ...(researcherSeat.provider !== 'offline' && config.models.council.research_fallback === 'offline'
      ? { fallbackResearcher: new OfflineResearcher() }
      : {}),
    pms,
    chairman: chairmanSeat.provider === 'offline' ? new OfflineChairman() : new LlmChairman(llmOptions(chairmanSeat)),
    assignments: new Map(seats.map((s) => [s.seat, { provider: s.provider, model: s.model }])),
    mode: providers.length === 0 ? 'offline' : online.length < seats.length ? `${providers.join('+')}+offline` : providers.join('+'),
  };
}

async function buildClient(env: Env, llmConfig: LlmConfig, options: RosterOptions): Promise<OpenAiCompatibleClient> {
  const [{ OpenAiCompatibleClient }, { DbLlmCallSink, weekSpendUsd }, { DbLlmResponseCache }, { WeeklyBudgets }] = await Promise.all([
    import('./llm/openai-compatible-client.js'),
    import('./llm/call-audit.js'),
    import('./llm/response-cache.js'),
    import('./llm/run-budget.js'),
  ]);
  const secrets = secretsOf(resolveProviders(env, llmConfig));
  return new OpenAiCompatibleClient({
    env,
    config: llmConfig,
    // Per week's run, across commands: what the week's calls already cost counts.
    budget: new WeeklyBudgets(llmConfig.budget_usd_per_run, (weekId) => weekSpendUsd(options.db, { portfolio: options.portfolio, weekId })),
    cache: new DbLlmResponseCache(options.db),
    ...(options.cacheOverride ? { cacheOverride: options.cacheOverride } : {}),
    ...(options.backtestBudget ? { backtestBudget: options.backtestBudget } : {}),
    sink: new ArtifactMirrorSink(new DbLlmCallSink(options.db, options.portfolio, secrets), options.artifacts, secrets),
  });
}

/** Records each call in the database and mirrors it, redacted, to runs/<week>/raw/<stage>/calls/. */
class ArtifactMirrorSink implements LlmCallSink {
  private sequence = 0;
  constructor(
    private readonly inner: LlmCallSink,
    private readonly artifacts: Artifacts,
    private readonly secrets: readonly string[],
  ) {}

  async record(call: LlmCallRecord): Promise<void> {
    await this.inner.record(call);
    const safe = redactDeep(call, this.secrets);
    const name = `calls/${safe.seat}-${String(++this.sequence).padStart(3, '0')}-${safe.status}`;
    await this.artifacts.writeRaw(safe.weekId, safe.stage, name, `${JSON.stringify(safe, null, 2)}\n`);
  }
}
