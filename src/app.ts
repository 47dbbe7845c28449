import { join } from 'node:path';
import type { AppConfig } from './config/app-config.js';
import type { Env } from './config/env.js';
import { SimulatedBroker } from './broker/sim-broker.js';
import type { Agents } from './council/stage.js';
import { BundledMarketData } from './market/bundled-market-data.js';
import { assignSeats, buildAgents, promptsOfOnlineSeats } from './agent-roster.js';
import { loadLlmConfig } from './llm/index.js';
import type { Broker } from './ports/broker.js';
import { SimulatedClock } from './ports/clock.js';
import type { MarketData } from './ports/market-data.js';
import { compilePrompt } from './prompts/render.js';
import { Artifacts } from './storage/artifacts.js';
import { openStore, type Store } from './storage/db.js';

/** The adapters of one process, chosen from the environment and config (DESIGN §3). */
export interface App {
  env: Env;
  config: AppConfig;
  store: Store;
  marketData: MarketData;
  broker: Broker;
  clock: SimulatedClock;
  agents: Agents;
  artifacts: Artifacts;
  close(): Promise<void>;
}

export class UnsupportedAdapterError extends Error {}

export interface OpenAppOptions {
  /** Force the offline agents even when LLM keys are present. */
  offline?: boolean;
  /** --no-cache: always ask the models (answers are still recorded for replays). */
  noCache?: boolean;
  /** An already open store (tests share one). */
  store?: Store;
}

export async function openApp(env: Env, config: AppConfig, options: OpenAppOptions = {}): Promise<App> {
  if (env.marketData !== 'bundled')
    throw new UnsupportedAdapterError(`MARKET_DATA=${env.marketData} is not available yet; use MARKET_DATA=bundled`);
  if (env.broker !== 'sim') throw new UnsupportedAdapterError(`BROKER=${env.broker} is not available yet; use BROKER=sim`);
  const llmConfig = loadLlmConfig(config.dir);
  // Seat assignment and the LLM seats' prompt templates are checked before the database is opened,
  // so a config or template error touches nothing and costs nothing.
  const seats = assignSeats(env, config, llmConfig, options.offline === true);
  const promptsDir = env.promptsDir ?? join(config.dir, 'prompts');
  for (const name of promptsOfOnlineSeats(seats)) compilePrompt(name, { dir: promptsDir });
  const marketData = new BundledMarketData({ dir: env.marketDataDir });
  const store = options.store ?? (await openStore({ databaseUrl: env.databaseUrl, home: env.home, pool: env.pool }));
  const artifacts = new Artifacts(env.home);
  const agents = buildAgents(env, config, llmConfig, {
    offline: options.offline === true,
    promptsDir,
    db: store.db,
    artifacts,
    ...(options.noCache ? { cacheOverride: 'bypass' as const } : {}),
  });
  const clock = new SimulatedClock(new Date(0));
  const broker = new SimulatedBroker({ db: store.db, marketData, clock, execution: config.models.execution });
  return {
    env,
    config,
    store,
    marketData,
    broker,
    clock,
    agents,
    artifacts,
    close: async () => {
      if (!options.store) await store.close();
    },
  };
}
