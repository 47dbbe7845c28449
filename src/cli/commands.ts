/**
 * The commands' work, loaded only when a command runs (program.ts imports this lazily): `--help`,
 * `--version` and argument errors never load the database, the LLM client or the market data.
 *
 * Order inside a command: parse the environment and config, resolve the week from the market data,
 * check the seats — all before the database is opened, so a bad argument costs nothing and leaves
 * nothing behind.
 */
import type { App, OpenAppOptions } from '../app.js';
import type { AppConfig } from '../config/app-config.js';
import type { Env } from '../config/env.js';
import { checkDecisionWeekday, resolveWeek, type WeekInfo } from '../council/week.js';
import type { StageName } from '../council/stage.js';
import type { weekUsage } from '../council/week-usage.js';
import type { MarketData } from '../ports/market-data.js';
import type { Store } from '../storage/db.js';
import type { PortfolioKind } from '../portfolio/portfolio.js';
import type { SeatAssignment } from '../agent-roster.js';
import type { ProviderDescription } from '../llm/providers.js';
import { describeError } from '../errors.js';
import { UsageError, type CliIo, type CommonOptions } from './io.js';
import { progressPrinter } from './progress-printer.js';
import { money, pad } from './format.js';

// Loaded when a command gets past its checks: the database, the agents and the LLM client are what
// make a process slow to start, and a refused command needs none of them.
const appModule = () => import('../app.js');
const weeklyModule = () => import('../council/weekly.js');
const postmortemModule = () => import('../metrics/postmortem.js');
const portfolioModule = () => import('../portfolio/portfolio.js');
const drizzle = () => import('drizzle-orm');
const schema = () => import('../storage/schema.js');

export interface WeekCommandOptions extends CommonOptions {
  week?: string;
  asOf?: string;
  offline?: boolean;
  force?: boolean;
  cache?: boolean;
  allowOfflineSeats?: boolean;
  accountFilter?: number[];
}

export const STEP_STAGES: Record<string, readonly StageName[]> = {
  run_weekly: ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
  research: ['snapshot', 'research'],
  pm_pitches: ['pm_pitches'],
  peer_review: ['peer_review'],
  chairman: ['chairman'],
  execute: ['risk', 'execute'],
};

/** The week the user asked for: --week or --as-of (they must agree), else undefined (the latest complete week). */
export function chosenWeek(options: { week?: string; asOf?: string }): string | undefined {
  if (options.week && options.asOf && options.week !== options.asOf)
    throw new UsageError(`--week ${options.week} and --as-of ${options.asOf} disagree; give one`);
  return options.week ?? options.asOf;
}

export interface Prepared {
  env: Env;
  config: AppConfig;
  marketData: MarketData;
  /**
   * MARKET_DATA=alpaca: the database, opened early because the bars are in it (the week is resolved
   * from them before the App exists). withApp hands it to the App and closes it.
   */
  store?: Store;
}

/**
 * Environment and config: what every command checks first. A decision date on the wrong weekday is
 * refused first, from schedule.yaml alone, before the schema library and the config are even loaded:
 * the commonest mistake costs the least.
 */
export async function prepareConfig(io: CliIo, asked?: string): Promise<{ env: Env; config: AppConfig }> {
  if (asked !== undefined) {
    const { scheduledWeekday } = await import('../config/schedule-day.js');
    const day = scheduledWeekday(configDirOf(io.env));
    if (day) checkDecisionWeekday(asked, day);
  }
  const [{ parseEnv, checkBrokerEnv }, { loadConfig }] = await Promise.all([import('../config/env.js'), import('../config/app-config.js')]);
  const env = parseEnv(io.env);
  checkBrokerEnv(env);
  const config = loadConfig(configDirOf(io.env));
  return { env, config };
}

/**
 * Environment, config and market data: everything a command checks before it opens the database —
 * except with MARKET_DATA=alpaca, where the market data is the database: it is opened here (and the
 * synced calendar installed), and a database without bars is refused with what to run.
 */
export async function prepare(io: CliIo, asked?: string, options: CommonOptions = {}): Promise<Prepared> {
  const { env, config } = await prepareConfig(io, asked);
  if (env.marketData === 'bundled') {
    const { BundledMarketData } = await import('../market/bundled-market-data.js');
    return { env, config, marketData: new BundledMarketData({ dir: env.marketDataDir }) };
  }
  const { openAlpacaMarketData } = await import('../market/alpaca-market-data.js');
  const store = await openCliStore(io, env, 'llm-trading', options);
  try {
    return { env, config, marketData: await openAlpacaMarketData(store.db, config), store };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** resolveWeek on the prepared market data; a refusal closes what prepare opened. */
export async function preparedWeek(prepared: Prepared, asked: string | undefined): Promise<WeekInfo> {
  try {
    return await resolveWeek(asked, prepared.config, prepared.marketData);
  } catch (error) {
    await prepared.store?.close();
    throw error;
  }
}

export async function withApp(
  io: CliIo,
  prepared: Prepared,
  command: string,
  options: CommonOptions & Omit<OpenAppOptions, 'store' | 'marketData' | 'command' | 'onWait'>,
  body: (app: App) => Promise<void>,
): Promise<void> {
  try {
    const { openApp } = await appModule();
    const app = await openApp(prepared.env, prepared.config, {
      ...options,
      ...(options.portfolio !== undefined ? { portfolio: options.portfolio } : {}),
      ...(options.lockTimeout !== undefined ? { lockTimeoutMs: options.lockTimeout * 1000 } : {}),
      marketData: prepared.marketData,
      ...(prepared.store ? { store: prepared.store } : {}),
      command: `llm-trading ${command}`,
      onWait: (what) => io.stderr(`llm-trading ${command}: waiting: ${what} (up to --lock-timeout)\n`),
    });
    try {
      await body(app);
    } finally {
      await app.close();
    }
  } finally {
    await prepared.store?.close();
  }
}

export async function runSteps(
  io: CliIo,
  command: string,
  options: WeekCommandOptions,
  view: { summary: boolean; postmortem?: boolean; portfolio?: string; kind?: PortfolioKind } = { summary: false },
): Promise<void> {
  const asked = chosenWeek(options);
  const prepared = await prepare(io, asked, options);
  const week = await preparedWeek(prepared, asked);
  const appOptions = {
    offline: options.offline === true,
    allowOfflineSeats: options.allowOfflineSeats === true,
    noCache: options.cache === false,
    ...(options.lockTimeout !== undefined ? { lockTimeout: options.lockTimeout } : {}),
    ...((view.portfolio ?? options.portfolio) ? { portfolio: view.portfolio ?? options.portfolio } : {}),
    ...(view.kind ? { portfolioKind: view.kind } : {}),
  };
  const [{ runWeek }, { runPostmortem }, { renderSummary }, { renderPostmortem }] = await Promise.all([
    weeklyModule(),
    postmortemModule(),
    import('./summary.js'),
    import('./postmortem-summary.js'),
  ]);
  await withApp(io, prepared, command, appOptions, async (app) => {
    const listener = progressPrinter((line) => io.stderr(`${line}\n`));
    io.stderr(
      `llm-trading ${command}: week ${week.week_id}, portfolio ${app.portfolio} (${app.store.location}, ${app.agents.mode} agents)\n`,
    );
    const started = performance.now();
    const { result, error } = await runWeek(
      app,
      week,
      STEP_STAGES[command] ?? [],
      { force: options.force, ...(options.accountFilter ? { accountFilter: options.accountFilter } : {}) },
      listener,
    );
    const reported = error ? { ...result, error: describeError(error) } : result;
    if (options.json) io.stdout(`${JSON.stringify(reported, null, 2)}\n`);
    else if (!result.refused && (view.summary || !error)) io.stdout(`${renderSummary(reported, { preview: !view.postmortem })}\n`);
    if (error) throw error;
    if (view.postmortem && !options.json) io.stdout(`${renderPostmortem(await runPostmortem(app, week), { usage: false })}\n`);
    io.stderr(`done in ${((performance.now() - started) / 1000).toFixed(1)}s; artifacts in ${app.artifacts.dirOf(week.week_id)}\n`);
  });
}

export async function postmortem(io: CliIo, options: CommonOptions & { week?: string; asOf?: string }): Promise<void> {
  const asked = chosenWeek(options);
  const prepared = await prepare(io, asked, options);
  const week = await preparedWeek(prepared, asked);
  const [{ runPostmortem }, { renderPostmortem }] = await Promise.all([postmortemModule(), import('./postmortem-summary.js')]);
  // No agent is asked anything: the postmortem reads what the week stored.
  await withApp(io, prepared, 'postmortem', { ...options, offline: true }, async (app) => {
    const pm = await runPostmortem(app, week);
    io.stdout(options.json ? `${JSON.stringify(pm, null, 2)}\n` : `${renderPostmortem(pm)}\n`);
  });
}

export async function demo(io: CliIo, options: CommonOptions): Promise<void> {
  // npm start: its own portfolio, so it never disturbs a user's books.
  const [{ DEMO_PORTFOLIO }, { week }] = await Promise.all([portfolioModule(), import('./week-commands.js')]);
  await week(io, { ...options, offline: true }, { portfolio: DEMO_PORTFOLIO, kind: 'demo', command: 'demo' });
}

interface RunStatus {
  portfolio: string;
  week_id: string;
  asof_et: string;
  status: string;
  mode: string;
  error: string | null;
  usage: Awaited<ReturnType<typeof weekUsage>>;
}

export async function status(io: CliIo, options: CommonOptions): Promise<void> {
  const prepared = await prepare(io, undefined, options);
  const [{ eq }, { runs }, { weekLockName }, { weekUsage }] = await Promise.all([
    drizzle(),
    schema(),
    weeklyModule(),
    import('../council/week-usage.js'),
  ]);
  await withApp(io, prepared, 'status', { ...options, offline: true }, async (app) => {
    const rows = await app.store.db.select().from(runs).where(eq(runs.portfolio, app.portfolio)).orderBy(runs.weekId);
    const report: RunStatus[] = [];
    for (const r of rows) {
      const run = { portfolio: r.portfolio, weekId: r.weekId };
      // 'running' is stored when a run starts; if nobody holds the week's lock now, it was interrupted.
      let shown = r.status;
      if (r.status === 'running') {
        const release = await app.store.locks.acquire(weekLockName(run), { timeoutMs: 0 }).catch(() => null);
        if (release) {
          shown = 'interrupted';
          await release();
        }
      }
      report.push({
        portfolio: r.portfolio,
        week_id: r.weekId,
        asof_et: r.asofEt,
        status: shown,
        mode: r.mode,
        error: r.error,
        usage: await weekUsage(app.store.db, run),
      });
    }
    if (options.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    if (report.length === 0) {
      io.stdout(`no runs in portfolio ${app.portfolio} yet: try \`llm-trading run_weekly\`\n`);
      return;
    }
    io.stdout(`portfolio ${app.portfolio}\n`);
    io.stdout(`${pad('week', 12)}${pad('status', 13)}${pad('agents', 22)}${pad('calls', 7)}${pad('cost', 10)}error\n`);
    for (const r of report) {
      io.stdout(
        `${pad(r.week_id, 12)}${pad(r.status, 13)}${pad(r.mode, 22)}${pad(String(r.usage.calls), 7)}${pad(`$${r.usage.cost_usd.toFixed(4)}`, 10)}${r.error ?? ''}\n`,
      );
      // Per seat, all stages together: where the week's money went.
      const bySeat = new Map<string, { calls: number; cost: number }>();
      for (const u of r.usage.by_seat) {
        const seat = bySeat.get(u.seat) ?? { calls: 0, cost: 0 };
        bySeat.set(u.seat, { calls: seat.calls + u.calls, cost: seat.cost + u.cost_usd });
      }
      const order = Object.keys(app.config.models.seats);
      const seats = [...bySeat].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
      if (seats.length > 0) io.stdout(`    ${seats.map(([seat, u]) => `${seat} ${u.calls} calls $${u.cost.toFixed(4)}`).join(' · ')}\n`);
    }
  });
}

export async function accounts(io: CliIo, options: CommonOptions): Promise<void> {
  const prepared = await prepare(io, undefined, options);
  const [{ eq, max }, { orders }] = await Promise.all([drizzle(), schema()]);
  await withApp(io, prepared, 'accounts', { ...options, offline: true }, async (app) => {
    // The simulated world's "now" is the last time it acted: the portfolio's latest order.
    const [last] = await app.store.db
      .select({ at: max(orders.submittedAt) })
      .from(orders)
      .where(eq(orders.portfolio, app.portfolio));
    if (!last?.at) {
      if (options.json) io.stdout('[]\n');
      else io.stdout(`no orders in portfolio ${app.portfolio} yet: try \`llm-trading run_weekly\`\n`);
      return;
    }
    app.clock.set(last.at);
    const { AlpacaSubledgerBroker } = await import('../broker/alpaca-subledger-broker.js');
    if (app.broker instanceof AlpacaSubledgerBroker) {
      // One paper account, six sub-ledgers: the books, Alpaca's account and their reconciliation.
      const [{ subledgerAccounts, renderSubledgerAccounts }, { accounts: accountRows }] = await Promise.all([
        import('./subledger-accounts.js'),
        schema(),
      ]);
      const rows = await app.store.db.select().from(accountRows).where(eq(accountRows.portfolio, app.portfolio));
      const starting = new Map(rows.map((r) => [r.id, r.startingCash]));
      const { booksPnl } = await import('../ledger/account-pnl.js');
      const books = new Map((await booksPnl({ ...app, db: app.store.db }, new Date())).map((p) => [p.account_id, p]));
      const report = await subledgerAccounts(app.store.db, app.portfolio, app.broker, app.config.models.accounts, starting, books);
      io.stdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderSubledgerAccounts(report));
      return;
    }
    const { accountsView, renderAccountsView } = await import('./accounts-view.js');
    const view = await accountsView(app, last.at);
    io.stdout(options.json ? `${JSON.stringify(view.rows, null, 2)}\n` : renderAccountsView(view));
  });
}

export async function portfolios(io: CliIo, options: CommonOptions): Promise<void> {
  const prepared = await prepare(io, undefined, options);
  const [{ eq, max }, { orders }, { listPortfolios }, { SimulatedBroker }, { SimulatedClock }] = await Promise.all([
    drizzle(),
    schema(),
    portfolioModule(),
    import('../broker/sim-broker.js'),
    import('../ports/clock.js'),
  ]);
  await withApp(io, prepared, 'portfolios', { ...options, offline: true }, async (app) => {
    const list = await listPortfolios(app.store.db);
    const report = [];
    for (const p of list) {
      // Equity of the six accounts marked at the portfolio's latest order, as `accounts` shows it.
      const [last] = await app.store.db
        .select({ at: max(orders.submittedAt) })
        .from(orders)
        .where(eq(orders.portfolio, p.name));
      let equity: number | null = null;
      if (last?.at) {
        const clock = new SimulatedClock(last.at);
        const broker = new SimulatedBroker({
          db: app.store.db,
          portfolio: p.name,
          marketData: app.marketData,
          clock,
          execution: app.config.models.execution,
        });
        equity = 0;
        for (const a of app.config.models.accounts) equity += (await broker.account(a.id)).equity;
        equity = Math.round(equity * 100) / 100;
      }
      report.push({ ...p, equity, equity_at: last?.at ? last.at.toISOString() : null });
    }
    if (options.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    if (report.length === 0) {
      io.stdout('no portfolios yet: `llm-trading run_weekly` creates `default`, `npm start` creates `demo`\n');
      return;
    }
    io.stdout(
      `${pad('portfolio', 20)}${pad('kind', 10)}${pad('weeks', 7)}${pad('first week', 12)}${pad('last week', 12)}equity (6 accounts)\n`,
    );
    for (const p of report)
      io.stdout(
        `${pad(p.name, 20)}${pad(p.kind, 10)}${pad(String(p.weeks), 7)}${pad(p.first_week ?? '-', 12)}${pad(p.last_week ?? '-', 12)}${money(p.equity)}\n`,
      );
  });
}

/** `models --json`: snake_case, like every other result. */
export function modelsJson(seats: readonly SeatAssignment[], providers: readonly ProviderDescription[]) {
  return {
    seats: seats.map((s) => ({
      seat: s.seat,
      role: s.role,
      provider: s.provider,
      model: s.model,
      fallbacks: s.fallbacks,
      key_present: s.keyPresent,
      note: s.note,
      available: s.available,
    })),
    providers: providers.map((p) => ({
      name: p.name,
      base_url: p.baseURL,
      key_present: p.keyPresent,
      auth: p.auth,
      key_required: p.keyRequired,
      key_env: p.keyEnv,
      json_mode: p.jsonMode,
      supports_async: p.supportsAsync,
      builtin: p.builtin,
    })),
  };
}

export async function models(io: CliIo, options: CommonOptions & { offline?: boolean; allowOfflineSeats?: boolean }): Promise<void> {
  const [{ assignSeats }, { describeProviders, loadLlmConfig }] = await Promise.all([
    import('../agent-roster.js'),
    import('../llm/index.js'),
  ]);
  const [{ parseEnv }, { loadConfig }] = await Promise.all([import('../config/env.js'), import('../config/app-config.js')]);
  const env = parseEnv(io.env);
  const config = loadConfig(configDirOf(io.env));
  const llmConfig = loadLlmConfig(config.dir);
  const seats = assignSeats(env, config, llmConfig, {
    offline: options.offline === true,
    allowOfflineSeats: options.allowOfflineSeats === true,
    report: true,
  });
  const providers = describeProviders(env, llmConfig, io.env);
  if (options.json) {
    io.stdout(`${JSON.stringify(modelsJson(seats, providers), null, 2)}\n`);
    return;
  }
  io.stdout(`${'seat'.padEnd(11)}${'role'.padEnd(11)}${'provider'.padEnd(12)}${'model'.padEnd(34)}key\n`);
  for (const s of seats) {
    const key = s.keyPresent === null ? '-' : s.keyPresent ? 'present' : 'MISSING';
    io.stdout(
      `${s.seat.padEnd(11)}${s.role.padEnd(11)}${s.provider.padEnd(12)}${s.model.padEnd(34)}${key}${s.note ? `  (${s.note})` : ''}\n`,
    );
  }
  io.stdout(
    `\nproviders: ${providers.map((p) => `${p.name} ${p.keyPresent ? 'key present' : p.keyRequired ? 'no key' : 'no key needed'} (${p.baseURL})`).join('; ')}\n`,
  );
}

/** The database of the environment, for a command that needs no App; waits for it up to --lock-timeout. */
export async function openCliStore(io: CliIo, env: Env, command: string, options: CommonOptions): Promise<Store> {
  const { openStore } = await import('../storage/db.js');
  return openStore({
    databaseUrl: env.databaseUrl,
    home: env.home,
    pool: env.pool,
    command,
    ...(options.lockTimeout !== undefined ? { lockTimeoutMs: options.lockTimeout * 1000 } : {}),
    onLockWait: (holder) => io.stderr(`${command}: waiting: ${holder} has the embedded database open\n`),
  });
}

export async function dbMigrate(io: CliIo, options: CommonOptions): Promise<void> {
  const { parseEnv } = await import('../config/env.js');
  const env = parseEnv(io.env);
  const store = await openCliStore(io, env, 'llm-trading db migrate', options);
  try {
    if (options.json) io.stdout(`${JSON.stringify({ migrated: true, location: store.location }, null, 2)}\n`);
    else io.stderr(`migrations applied to ${store.location}\n`);
  } finally {
    await store.close();
  }
}

/** LLM_TRADING_CONFIG_DIR, or undefined (the packaged config/) when unset or blank, as in a copied .env.example. */
export function configDirOf(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.LLM_TRADING_CONFIG_DIR?.trim();
  return dir ? dir : undefined;
}
