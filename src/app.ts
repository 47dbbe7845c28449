import type { AppConfig } from './config/app-config.js';
import type { Env } from './config/env.js';
import { SimulatedBroker } from './broker/sim-broker.js';
import type { Agents } from './council/stage.js';
import { BundledMarketData } from './market/bundled-market-data.js';
import { OfflineChairman } from './pm/offline/peer-weighted-chairman.js';
import { OfflinePortfolioManager, type PersonaName } from './pm/offline/offline-pm.js';
import { OfflineResearcher } from './research/offline/macro-snapshot-researcher.js';
import type { PortfolioManager } from './ports/agents.js';
import type { Broker } from './ports/broker.js';
import { SimulatedClock } from './ports/clock.js';
import type { MarketData } from './ports/market-data.js';
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
  /** An already open store (tests share one). */
  store?: Store;
}

export async function openApp(env: Env, config: AppConfig, options: OpenAppOptions = {}): Promise<App> {
  if (env.marketData !== 'bundled')
    throw new UnsupportedAdapterError(`MARKET_DATA=${env.marketData} is not available yet; use MARKET_DATA=bundled`);
  if (env.broker !== 'sim') throw new UnsupportedAdapterError(`BROKER=${env.broker} is not available yet; use BROKER=sim`);
  const agents = buildAgents(env, config, options.offline === true);
  const marketData = new BundledMarketData({ dir: env.marketDataDir });
  const store = options.store ?? (await openStore({ databaseUrl: env.databaseUrl, home: env.home, pool: env.pool }));
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
    artifacts: new Artifacts(env.home),
    close: async () => {
      if (!options.store) await store.close();
    },
  };
}

function buildAgents(env: Env, config: AppConfig, forceOffline: boolean): Agents {
  if (!forceOffline && env.llmProvider !== 'offline') {
    throw new UnsupportedAdapterError(`LLM seats (${env.llmProvider}) are not wired yet; run with --offline or LLM_PROVIDER=offline`);
  }
  const pms = new Map<string, PortfolioManager>();
  for (const seat of config.pmSeats) {
    const persona = config.models.seats[seat]?.offline as PersonaName;
    pms.set(seat, new OfflinePortfolioManager(seat, persona));
  }
  return { researcher: new OfflineResearcher(), pms, chairman: new OfflineChairman(), mode: 'offline' };
}
