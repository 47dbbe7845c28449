/**
 * The backtest's report: per account and for the FLAT, SPY buy-and-hold and equal-weight-universe
 * benchmarks, the performance statistics of the daily equity (src/metrics/performance-stats.ts), the
 * week-level counts from the postmortems (turnover, actions, panic exits), and the verdict — council
 * against each PM and against the PMs' mean, on weekly returns, with a block-bootstrap confidence
 * interval (src/metrics/verdict.ts). Stored with the backtest, and written as report.md, report.json
 * and equity.csv under runs/<portfolio>/backtest/.
 */
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { App } from '../app.js';
import { buyAndHold, equalWeightBenchmark, performanceStats } from '../metrics/performance-stats.js';
import { councilVerdict } from '../metrics/verdict.js';
import { backtests } from '../storage/schema.js';
import type { BacktestRun, WeekPostmortem } from './backtest.js';
import { contaminationOf, describeSeat, type Contamination } from './contamination.js';
import { allThenThrow } from '../errors.js';

export type Stats = ReturnType<typeof performanceStats>;

export interface BacktestAccountReport {
  account_id: number;
  owner: string;
  /** What sat in the seat (a model id or an offline persona), each with the number of weeks. */
  agents: Record<string, number>;
  stats: Stats;
  /** Mean weekly turnover (traded notional / start equity of the week). */
  turnover_per_week: number;
  /** Weeks with a position at the week's end / weeks. */
  exposure: number;
  actions: { STAY: number; EXIT: number; FLIP: number; REDUCE: number };
  panic_exits: number;
}

export interface BacktestReport {
  name: string;
  portfolio: string;
  mode: string;
  from_week: string;
  to_week: string;
  weeks: number;
  first_date: string;
  last_date: string;
  risk_free_rate: number;
  verdict: ReturnType<typeof councilVerdict>;
  accounts: BacktestAccountReport[];
  benchmarks: { flat: Stats; spy_buy_hold: Stats & { ticker: string }; equal_weight: Stats };
  notes: string[];
  /**
   * Knowledge-cutoff contamination of each week (src/backtest/contamination.ts): the seats with their
   * cutoffs, each week with the seats whose model may know what followed its decision day, the counts.
   * Absent from reports stored before it existed.
   */
  contamination?: Contamination;
  /**
   * The verdict on the clean weeks alone (same definitions; drawdowns from those weeks' daily equity):
   * null with no clean week, when `sentence` says so. Absent from reports stored before it existed.
   */
  clean_verdict?: { weeks: number; verdict: ReturnType<typeof councilVerdict> | null; sentence: string };
}

const RISK_FREE_RATE = 0;

/** The verdict's comparisons in reading order: the PMs' mean first, then each PM. */
export function comparisonsOf(
  verdict: BacktestReport['verdict'],
): (ReturnType<typeof councilVerdict>['vs_individuals_mean'] & { against: string })[] {
  return [{ against: "PMs' mean", ...verdict.vs_individuals_mean }, ...verdict.vs_individuals.map((c) => ({ ...c, against: c.owner }))];
}

/** Each account's daily equity over the whole backtest: the weeks' close-to-close paths, joined. */
export function dailyEquity(postmortems: readonly WeekPostmortem[]): Map<number, { date: string; equity: number }[]> {
  const series = new Map<number, { date: string; equity: number }[]>();
  for (const pm of postmortems)
    for (const a of pm.accounts) {
      const path = series.get(a.account_id) ?? [];
      // Each week starts at the close the previous one ended on: that point is already there.
      for (const point of a.equity_path) if (path.at(-1)?.date !== point.date) path.push({ date: point.date, equity: point.equity });
      series.set(a.account_id, path);
    }
  return series;
}

export async function buildBacktestReport(app: App, run: BacktestRun): Promise<BacktestReport> {
  const pms = run.postmortems;
  const equity = dailyEquity(pms);
  const startingCash = app.config.models.risk.starting_cash;
  const accounts: BacktestAccountReport[] = app.config.models.accounts.map((account) => {
    const weeks = pms.map((pm) => pm.accounts.find((a) => a.account_id === account.id)).filter((a) => a !== undefined);
    const agents: Record<string, number> = {};
    for (const w of weeks) agents[w.agent] = (agents[w.agent] ?? 0) + 1;
    const actions = { STAY: 0, EXIT: 0, FLIP: 0, REDUCE: 0 };
    for (const w of weeks) for (const k of Object.keys(actions) as (keyof typeof actions)[]) actions[k] += w.actions[k];
    return {
      account_id: account.id,
      owner: account.owner,
      agents,
      stats: performanceStats(equity.get(account.id) ?? [], { riskFreeRate: RISK_FREE_RATE }),
      turnover_per_week: round4(weeks.reduce((s, w) => s + w.turnover, 0) / Math.max(1, weeks.length)),
      exposure: round4(weeks.filter((w) => w.positions_at_end.length > 0).length / Math.max(1, weeks.length)),
      actions,
      panic_exits: weeks.reduce((s, w) => s + w.panic_exits, 0),
    };
  });

  const dates = (equity.get(app.config.models.accounts[0]?.id ?? 1) ?? []).map((p) => p.date);
  const first = dates[0] ?? run.weeks[0]?.data_through ?? '';
  const last = dates.at(-1) ?? first;
  const barsOf = async (ticker: string) => (await app.marketData.bars(ticker, last)).filter((b) => b.date >= first);
  const benchmark = app.config.assets.benchmark;
  const universe = new Map<string, { date: string; close: number }[]>();
  const distributions: string[] = [];
  let sessions = 0;
  for (const ticker of app.config.tickers) {
    const bars = await barsOf(ticker);
    universe.set(
      ticker,
      bars.map((b) => ({ date: b.date, close: b.close })),
    );
    sessions = Math.max(sessions, bars.length - 1);
    // Under a year, what was paid in all: most of these pay quarterly or once a year, so one payment
    // annualized over a few weeks reads as a yield many times the real one.
    const paid = bars.length - 1 >= YEAR ? distributionYield(bars) : distributionPaid(bars);
    if (paid !== null && paid >= 0.0005) distributions.push(`${ticker} ${(paid * 100).toFixed(1)}%`);
  }
  const paidOver = sessions >= YEAR ? 'a year' : `in all (${sessions} sessions, under a year: not annualized)`;
  const flat = dates.map((date) => ({ date, equity: startingCash }));

  const verdict = verdictOver(app, pms, (id) => accounts.find((a) => a.account_id === id)?.stats.max_drawdown ?? 0);
  const contamination = contaminationOf(app, run.weeks.slice(0, pms.length));
  const cleanIds = new Set(contamination.weeks.filter((w) => !w.contaminated).map((w) => w.week_id));
  const clean = pms.filter((pm) => cleanIds.has(pm.week_id));
  const cleanVerdict = clean.length === 0 ? null : clean.length === pms.length ? verdict : verdictOverWeeks(app, clean);

  const incomplete = pms.filter((pm) => !pm.complete).map((pm) => pm.week_id);
  const contaminating = contamination.seats.filter((s) => contamination.weeks.some((w) => w.seats.includes(s.seat)));
  return {
    name: run.name,
    portfolio: run.portfolio,
    mode: app.agents.mode,
    from_week: run.weeks[0]?.week_id ?? '',
    to_week: run.weeks.at(-1)?.week_id ?? '',
    weeks: pms.length,
    first_date: first,
    last_date: last,
    risk_free_rate: RISK_FREE_RATE,
    verdict,
    accounts,
    benchmarks: {
      flat: performanceStats(flat, { riskFreeRate: RISK_FREE_RATE }),
      spy_buy_hold: {
        ticker: benchmark,
        ...performanceStats(buyAndHold(universe.get(benchmark) ?? [], startingCash), { riskFreeRate: RISK_FREE_RATE }),
      },
      equal_weight: performanceStats(equalWeightBenchmark(universe, startingCash), { riskFreeRate: RISK_FREE_RATE }),
    },
    notes: [
      'daily returns of the close-to-close equity, 252 periods a year, sample standard deviation, risk-free rate 0 (quantstats/empyrical conventions; definitions in the README)',
      "weekly returns for the verdict are each week's postmortem P/L %, from the close before the decision to the week's last close",
      ...(verdict.vs_individuals.length > 1 ? [multipleComparisonsNote(verdict.vs_individuals.length)] : []),
      `distributions are not credited (nor charged to shorts): every return here, the benchmarks' too, is a price return${distributions.length > 0 ? `; over these dates the ETFs paid about ${distributions.join(', ')} ${paidOver} (from the bars' adjusted closes), by which a long position's return is understated and a short's overstated` : ''}`,
      ...(app.agents.mode === 'offline' ? ['offline agents: deterministic quant personas, no LLM'] : []),
      ...(incomplete.length > 0 ? [`weeks not over in the data yet (measured through the last close): ${incomplete.join(', ')}`] : []),
      contamination.seats.every((s) => s.kind === 'offline')
        ? 'knowledge cutoffs: offline agents know nothing past the data they are shown, so every week is clean'
        : `knowledge cutoffs: ${contamination.contaminated_weeks} of ${pms.length} weeks contaminated (${CONTAMINATION_NOTE})${contaminating.length > 0 ? ` by ${contaminating.map(describeSeat).join(', ')}` : ''}`,
    ],
    contamination,
    clean_verdict: {
      weeks: clean.length,
      verdict: cleanVerdict,
      sentence: cleanVerdict
        ? `on the ${clean.length === 1 ? 'clean week' : `${clean.length} clean weeks`}: ${cleanVerdict.sentence}`
        : "no clean weeks: every week's decision day is on or before a seat's knowledge cutoff, so no verdict is free of what the models may remember",
    },
  };
}

/**
 * What the ETF paid out a year over the bars (dividends and other distributions): the adjusted close's
 * growth over the close's (the closes are split-adjusted, the adjusted closes also for distributions),
 * annualized over 252 sessions. Null with fewer than two bars.
 */
export function distributionYield(bars: readonly { close: number; adjClose: number }[]): number | null {
  const paid = distributionPaid(bars);
  return paid === null ? null : (1 + paid) ** (YEAR / (bars.length - 1)) - 1;
}

/** What the ETF paid out in all over the bars, as a fraction of the price (not annualized). Null with fewer than two bars. */
export function distributionPaid(bars: readonly { close: number; adjClose: number }[]): number | null {
  const a = bars[0];
  const b = bars.at(-1);
  if (!a || !b || bars.length < 2) return null;
  return b.adjClose / a.adjClose / (b.close / a.close) - 1;
}

/** Sessions in a year, as the metrics count them. */
const YEAR = 252;

/** The per-PM rows are n tests at 95% each: read alone, one of them can look significant by chance. */
export function multipleComparisonsNote(n: number): string {
  const chance = Math.round((1 - 0.95 ** n) * 100);
  return `the verdict's headline is one comparison, the council against the PMs' mean; the per-PM intervals are 95% each and not adjusted for ${n} comparisons (if they were independent, 1 − 0.95^${n} ≈ ${chance}% of backtests would show at least one PM 'distinguishable' by chance)`;
}

const CONTAMINATION_NOTE = "decision day on or before a seat's knowledge cutoff: the model may know what happened next";

/**
 * The verdict over some of the backtest's weeks: the council's weekly returns against each PM's and
 * their mean, with each account's maximum drawdown over those weeks (`maxDrawdown`, by account id).
 */
function verdictOver(
  app: App,
  pms: readonly WeekPostmortem[],
  maxDrawdown: (accountId: number) => number,
): ReturnType<typeof councilVerdict> {
  const weekly = (owner: string) => pms.map((pm) => pm.accounts.find((a) => a.owner === owner)?.pnl_pct ?? 0);
  const individuals = app.config.models.accounts.filter((a) => a.owner !== 'council');
  const council = app.config.models.accounts.find((a) => a.owner === 'council');
  return councilVerdict({
    weeks: pms.map((pm) => pm.week_id),
    council: weekly('council'),
    individuals: new Map(individuals.map((a) => [a.owner, weekly(a.owner)])),
    councilMaxDrawdown: council ? maxDrawdown(council.id) : 0,
    individualsMaxDrawdown: new Map(individuals.map((a) => [a.owner, maxDrawdown(a.id)])),
  });
}

/** The verdict over a subset of the weeks (the clean ones): drawdowns from those weeks' daily equity. */
function verdictOverWeeks(app: App, pms: readonly WeekPostmortem[]): ReturnType<typeof councilVerdict> {
  const equity = dailyEquity(pms);
  return verdictOver(app, pms, (id) => performanceStats(equity.get(id) ?? [], { riskFreeRate: RISK_FREE_RATE }).max_drawdown);
}

/** Stores the report with the backtest and writes report.json, report.md and equity.csv. */
export async function writeBacktestFiles(app: App, run: BacktestRun, report: BacktestReport): Promise<{ dir: string }> {
  await app.store.db.update(backtests).set({ status: 'completed', report, updatedAt: new Date() }).where(eq(backtests.name, run.name));
  const { renderBacktestMarkdown } = await import('./report-markdown.js');
  const equity = dailyEquity(run.postmortems);
  const owners = app.config.models.accounts;
  const dates = (equity.get(owners[0]?.id ?? 1) ?? []).map((p) => p.date);
  const csv = [
    ['date', ...owners.map((a) => `${a.id}_${a.owner}`)].join(','),
    ...dates.map((date, i) => [date, ...owners.map((a) => String(equity.get(a.id)?.[i]?.equity ?? ''))].join(',')),
  ].join('\n');
  await allThenThrow([
    app.artifacts.writeReport('backtest', 'report.json', `${JSON.stringify(report, null, 2)}\n`),
    app.artifacts.writeReport('backtest', 'report.md', renderBacktestMarkdown(report)),
    app.artifacts.writeReport('backtest', 'equity.csv', `${csv}\n`),
  ]);
  return { dir: join(app.artifacts.dirOf('backtest')) };
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
