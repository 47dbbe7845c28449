import { join } from 'node:path';
import { startingShares, type AppConfig } from './config/app-config.js';
import { checkBrokerEnv, type Env } from './config/env.js';
import { AlpacaBroker } from './broker/alpaca-broker.js';
import type { AlpacaWaitOptions } from './broker/alpaca-orders.js';
import { AlpacaSubledgerBroker, SUBLEDGER_ACCOUNT_LABEL } from './broker/alpaca-subledger-broker.js';
import { AlpacaClient } from './broker/alpaca/client.js';
import type { AlpacaMcpAccounts } from './broker/alpaca-mcp/accounts.js';
import { SimulatedBroker } from './broker/sim-broker.js';
import type { Agents } from './council/stage.js';
import { BundledMarketData } from './market/bundled-market-data.js';
import { assignSeats, buildAgents, promptsOfOnlineSeats } from './agent-roster.js';
import type { BacktestBudget } from './llm/backtest-budget.js';
import { PortfolioLedger } from './ledger/portfolio-ledger.js';
import { loadLlmConfig } from './llm/llm-config.js';
import { checkPortfolioName, DEFAULT_PORTFOLIO, type PortfolioKind } from './portfolio/portfolio.js';
import type { Broker } from './ports/broker.js';
import { SimulatedClock } from './ports/clock.js';
import type { MarketData } from './ports/market-data.js';
import { compilePrompt } from './prompts/render.js';
import { Artifacts } from './storage/artifacts.js';
import { createFileWriter } from './storage/file-writer.js';
import { DEFAULT_LOCK_TIMEOUT_MS, openStore, type Store } from './storage/db.js';

/** The adapters of one process, chosen from the environment and config (DESIGN §3), for one portfolio. */
export interface App {
  env: Env;
  config: AppConfig;
  store: Store;
  /** The portfolio every run, account and order of this App belongs to. */
  portfolio: string;
  portfolioKind: PortfolioKind;
  marketData: MarketData;
  broker: Broker;
  clock: SimulatedClock;
  agents: Agents;
  artifacts: Artifacts;
  /** The portfolio's fills and books, read incrementally (see ledger/portfolio-ledger.ts). */
  ledger: PortfolioLedger;
  /** How long a command waits for a lock another process holds (the week, the portfolio's books). */
  lockTimeoutMs: number;
  /** A backtest with LLM seats: the cap on all its LLM calls (absent otherwise). */
  backtestBudget?: BacktestBudget;
  close(): Promise<void>;
}

export interface OpenAppOptions {
  /** Force the offline agents even when LLM keys are present. */
  offline?: boolean;
  /** Run a seat whose provider has no key as its (labelled) offline persona instead of stopping. */
  allowOfflineSeats?: boolean;
  /** --no-cache: always ask the models (answers are still recorded for replays). */
  noCache?: boolean;
  /** A backtest's cap on its LLM spending (`backtest --budget-usd`); default budget_usd_per_backtest. */
  backtestBudgetUsd?: number;
  /** An already open store (tests share one). */
  store?: Store;
  /** Market data already loaded (the CLI resolves the week with it before opening the database). */
  marketData?: MarketData;
  /** The portfolio (default: LLM_TRADING_PORTFOLIO, else `default`). */
  portfolio?: string;
  portfolioKind?: PortfolioKind;
  /** Waiting for another process: the embedded database, the week, the books (default 600 s). */
  lockTimeoutMs?: number;
  /** What this process is doing (shown to a process that waits for it). */
  command?: string;
  /** Told when this process starts waiting for another one. */
  onWait?: (what: string) => void;
  /** BROKER=alpaca and alpaca-mcp: the waits (tests shorten them); default from ALPACA_ORDER_WAIT_SECONDS / ALPACA_FILL_TIMEOUT_SECONDS. */
  alpacaWaits?: Pick<AlpacaWaitOptions, 'orderWaitMs' | 'fillTimeoutMs' | 'pollMs'>;
}

export async function openApp(env: Env, config: AppConfig, options: OpenAppOptions = {}): Promise<App> {
  checkBrokerEnv(env);
  const portfolio = checkPortfolioName(options.portfolio ?? env.portfolio ?? DEFAULT_PORTFOLIO);
  const llmConfig = loadLlmConfig(config.dir);
  // Seat assignment and the LLM seats' prompt templates are checked before the database is opened,
  // so a config or template error touches nothing and costs nothing.
  const assignOptions = { offline: options.offline === true, allowOfflineSeats: options.allowOfflineSeats === true };
  const seats = assignSeats(env, config, llmConfig, assignOptions);
  const promptsDir = env.promptsDir ?? join(config.dir, 'prompts');
  for (const name of promptsOfOnlineSeats(seats)) compilePrompt(name, { dir: promptsDir });
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const store =
    options.store ??
    (await openStore({
      databaseUrl: env.databaseUrl,
      home: env.home,
      pool: env.pool,
      lockTimeoutMs,
      command: options.command ?? 'llm-trading',
      // A backtest's weeks are replayed from what was stored (db.ts); a live portfolio's books are not.
      replayableWrites: options.portfolioKind === 'backtest',
      ...(options.onWait ? { onLockWait: (holder: string) => options.onWait?.(`${holder} has the embedded database open`) } : {}),
    }));
  let mcp: AlpacaMcpAccounts | undefined;
  try {
    // MARKET_DATA=alpaca reads the bars `data sync` stored in this database (and follows its calendar).
    const marketData =
      options.marketData ??
      (env.marketData === 'alpaca'
        ? await (await import('./market/alpaca-market-data.js')).openAlpacaMarketData(store.db, config)
        : new BundledMarketData({ dir: env.marketDataDir }));
    // A backtest's files are written behind, on a thread of their own (storage/file-writer.ts),
    // started at the first write: nothing to release if opening fails below.
    const artifacts = new Artifacts(env.home, portfolio, createFileWriter(options.portfolioKind === 'backtest' ? 'behind' : 'direct'));
    // A backtest reads the response cache whatever cache.live says (a re-run costs nothing), and caps
    // its whole LLM spending; its portfolio is its own, so the portfolio's calls are the backtest's.
    const backtest = options.portfolioKind === 'backtest';
    const backtestBudget =
      backtest && seats.some((s) => s.provider !== 'offline')
        ? await newBacktestBudget(store, portfolio, options.backtestBudgetUsd ?? llmConfig.budget_usd_per_backtest)
        : undefined;
    const agents = await buildAgents(env, config, llmConfig, {
      ...assignOptions,
      promptsDir,
      db: store.db,
      portfolio,
      artifacts,
      ...(options.noCache ? { cacheOverride: 'bypass' as const } : backtest ? { cacheOverride: 'use' as const } : {}),
      ...(backtestBudget ? { backtestBudget } : {}),
    });
    const clock = new SimulatedClock(new Date(0));
    // BROKER=alpaca-mcp: the same Alpaca brokers, their calls made through alpaca-mcp-server's tools
    // (one server per paper account, started on first use); loaded only in that mode.
    mcp = env.broker === 'alpaca-mcp' ? (await import('./broker/alpaca-mcp/accounts.js')).alpacaMcpAccounts(env, config) : undefined;
    const broker =
      env.broker === 'alpaca' || mcp
        ? alpacaBroker(env, config, store, portfolio, options.alpacaWaits, mcp)
        : new SimulatedBroker({ db: store.db, portfolio, marketData, clock, execution: config.models.execution });
    return {
      env,
      config,
      store,
      portfolio,
      portfolioKind: options.portfolioKind ?? 'live',
      marketData,
      broker,
      clock,
      agents,
      artifacts,
      ledger: new PortfolioLedger(portfolio),
      lockTimeoutMs,
      ...(backtestBudget ? { backtestBudget } : {}),
      close: async () => {
        try {
          await artifacts.close();
        } finally {
          await mcp?.close();
          if (!options.store) await store.close();
        }
      },
    };
  } catch (error) {
    await mcp?.close().catch(() => undefined);
    if (!options.store) await store.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The Alpaca broker of the keys present (checkBrokerEnv): one paper account per account, or six
 * sub-ledgers of one; over HTTP (BROKER=alpaca) or through alpaca-mcp-server (BROKER=alpaca-mcp: a
 * server per paper account, so one in sub-ledger mode).
 */
function alpacaBroker(
  env: Env,
  config: AppConfig,
  store: Store,
  portfolio: string,
  waits: OpenAppOptions['alpacaWaits'],
  mcp: AlpacaMcpAccounts | undefined,
): Broker {
  const settings = {
    db: store.db,
    portfolio,
    orderWaitMs: env.alpaca.orderWaitMs,
    fillTimeoutMs: env.alpaca.fillTimeoutMs,
    pollMs: env.alpaca.pollMs,
    ...waits,
  };
  const pair = env.alpaca.defaultPair;
  if (env.alpaca.mode === 'subledger' && pair) {
    // One key pair: through its alpaca-mcp-server (BROKER=alpaca-mcp), or over HTTP.
    const client =
      mcp?.subledger ??
      new AlpacaClient({
        ...pair,
        // Messages name the mode, never the key.
        accountLabel: SUBLEDGER_ACCOUNT_LABEL,
        ...(env.alpaca.tradingBaseUrl ? { tradingBaseUrl: env.alpaca.tradingBaseUrl } : {}),
        ...(env.alpaca.dataBaseUrl ? { dataBaseUrl: env.alpaca.dataBaseUrl } : {}),
      });
    return new AlpacaSubledgerBroker({ ...settings, client, startingShares: startingShares(config.models) });
  }
  return new AlpacaBroker({ ...settings, clients: mcp ? mcp.apis : alpacaClients(env, config) });
}

/** One Alpaca client per account (its own paper account and key pair), labelled "<id> (<owner>)" in messages. */
function alpacaClients(env: Env, config: AppConfig): Map<number, AlpacaClient> {
  const clients = new Map<number, AlpacaClient>();
  for (const account of config.models.accounts) {
    const pair = env.alpaca.accounts[account.id];
    if (!pair) continue;
    clients.set(
      account.id,
      new AlpacaClient({
        ...pair,
        accountLabel: `${account.id} (${account.owner})`,
        ...(env.alpaca.tradingBaseUrl ? { tradingBaseUrl: env.alpaca.tradingBaseUrl } : {}),
        ...(env.alpaca.dataBaseUrl ? { dataBaseUrl: env.alpaca.dataBaseUrl } : {}),
      }),
    );
  }
  return clients;
}

/** Loaded only for backtests with LLM seats (the CLI keeps the LLM stack off its start-up path). */
async function newBacktestBudget(store: Store, portfolio: string, capUsd: number): Promise<BacktestBudget> {
  const [{ BacktestBudget }, { portfolioSpendUsd }] = await Promise.all([
    import('./llm/backtest-budget.js'),
    import('./llm/call-audit.js'),
  ]);
  return new BacktestBudget(capUsd, portfolio, () => portfolioSpendUsd(store.db, portfolio));
}
