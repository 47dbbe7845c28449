import { describeSeat } from './contamination.js';
import { comparisonsOf, type BacktestReport, type Stats } from './report.js';

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)}%`);
const num = (x: number | null) => (x === null ? '–' : x.toFixed(2));
const cell = (text: string) => text.replaceAll('|', '\\|');

function row(label: string, s: Stats, extra: string[] = []): string {
  return `| ${[cell(label), pct(s.total_return), pct(s.cagr), pct(s.annualized_volatility), num(s.sharpe), num(s.sortino), `${pct(s.max_drawdown)} (${s.max_drawdown_peak_date ?? '–'} → ${s.max_drawdown_trough_date ?? '–'})`, num(s.calmar), pct(s.hit_rate), ...extra].join(' | ')} |`;
}

const bp = (x: number | null) => (x === null ? '–' : (x * 1e4).toFixed(1));
/** The 95% interval in bp, or – when there are too few weeks for one (see verdict.ts). */
const ci = (c: { ci_low: number | null; ci_high: number | null }) =>
  c.ci_low === null || c.ci_high === null ? '–' : `[${bp(c.ci_low)}, ${bp(c.ci_high)}]`;

/** The stated minimum for an interval (reports stored before it was introduced do not have it). */
const minWeeks = (v: { min_weeks_for_interval?: number }) =>
  v.min_weeks_for_interval === undefined ? '' : `; an interval from ${v.min_weeks_for_interval} weeks on`;

/** report.md: the verdict in one sentence at the top, then the tables and the definitions. */
export function renderBacktestMarkdown(r: BacktestReport): string {
  const lines = [
    `# Backtest ${r.name}`,
    '',
    `**${r.verdict.sentence}**`,
    '',
    `${r.weeks} weeks, ${r.from_week} to ${r.to_week} (${r.first_date} → ${r.last_date}); ${r.mode} agents; portfolio \`${r.portfolio}\`; risk-free rate ${r.risk_free_rate}.`,
    '',
    '## The council against its members (weekly returns)',
    '',
    '| council minus | mean (bp) | 95% CI (bp) | weeks won |',
    '| --- | --- | --- | --- |',
    ...comparisonsOf(r.verdict).map((c) => `| ${cell(c.against)} | ${bp(c.mean_diff)} | ${ci(c)} | ${pct(c.share_of_weeks_won)} |`),
    '',
    `Moving block bootstrap: ${r.verdict.block_length}-week circular blocks, ${r.verdict.resamples} resamples, seed ${r.verdict.seed}${minWeeks(r.verdict)}. The council's max drawdown is ${r.verdict.drawdown_below_individuals_mean ? 'below' : 'not below'} the PMs' mean.`,
    '',
    ...contaminationSection(r),
    '## Accounts and benchmarks (daily equity)',
    '',
    '| account | total return | CAGR | volatility | Sharpe | Sortino | max drawdown | Calmar | hit rate | turnover/week | exposure | STAY/EXIT/FLIP/REDUCE | panic exits |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.accounts.map((a) =>
      row(
        `${a.account_id} ${a.owner} (${Object.entries(a.agents)
          .map(([agent, n]) => `${agent} × ${n}`)
          .join(', ')})`,
        a.stats,
        [
          a.turnover_per_week.toFixed(2),
          pct(a.exposure),
          `${a.actions.STAY}/${a.actions.EXIT}/${a.actions.FLIP}/${a.actions.REDUCE}`,
          String(a.panic_exits),
        ],
      ),
    ),
    row('FLAT (cash)', r.benchmarks.flat, ['–', '–', '–', '–']),
    row(`${r.benchmarks.spy_buy_hold.ticker} buy-and-hold`, r.benchmarks.spy_buy_hold, ['–', '–', '–', '–']),
    row('equal-weight universe', r.benchmarks.equal_weight, ['–', '–', '–', '–']),
    '',
    '## Notes',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}

/** Clean weeks and their verdict, then which weeks each seat contaminates (consecutive weeks grouped). */
function contaminationSection(r: BacktestReport): string[] {
  const c = r.contamination;
  const clean = r.clean_verdict;
  if (!c || !clean) return [];
  if (c.contaminated_weeks === 0)
    return ['## Knowledge cutoffs', '', `Every week is clean (${offlineOrAfter(r)}): the verdict above is the clean-week verdict.`, ''];
  const lines = ['## Knowledge cutoffs: the verdict on clean weeks', '', `**${clean.sentence}**`, ''];
  if (clean.verdict) {
    const v = clean.verdict;
    lines.push(
      '| council minus | mean (bp) | 95% CI (bp) | weeks won |',
      '| --- | --- | --- | --- |',
      ...comparisonsOf(v).map((x) => `| ${cell(x.against)} | ${bp(x.mean_diff)} | ${ci(x)} | ${pct(x.share_of_weeks_won)} |`),
      '',
    );
  }
  lines.push(
    `${c.contaminated_weeks} of ${c.weeks.length} weeks are contaminated, ${c.clean_weeks} clean: ${c.rule}.`,
    '',
    '| seat | agent | knowledge cutoff | contaminated weeks |',
    '| --- | --- | --- | --- |',
    ...c.seats.map(
      (s) =>
        `| ${cell(s.seat)} | ${cell(s.agent)} | ${s.kind === 'offline' ? 'offline persona (none)' : s.kind === 'unknown' ? 'not configured (every week)' : s.kind === 'web' ? `web search (through ${c.as_of ?? 'the day it ran'})` : s.knowledge_cutoff} | ${c.weeks.filter((w) => w.seats.includes(s.seat)).length} |`,
    ),
    '',
    '| weeks (decision days) | contaminated by |',
    '| --- | --- |',
    ...groupWeeks(c.weeks).map(
      (g) =>
        `| ${g.first === g.last ? g.first : `${g.first} … ${g.last}`} (${g.count}) | ${g.seats.length === 0 ? 'clean' : g.seats.join(', ')} |`,
    ),
    '',
  );
  return lines;
}

function offlineOrAfter(r: BacktestReport): string {
  const seats = r.contamination?.seats ?? [];
  return seats.every((s) => s.kind === 'offline')
    ? 'offline agents have no knowledge cutoff'
    : `every decision day is after the cutoffs: ${seats
        .filter((s) => s.kind !== 'offline')
        .map(describeSeat)
        .join(', ')}`;
}

/** Consecutive weeks contaminated by the same seats, as ranges of decision days. */
function groupWeeks(weeks: NonNullable<BacktestReport['contamination']>['weeks']) {
  const groups: { first: string; last: string; count: number; seats: string[] }[] = [];
  for (const w of weeks) {
    const g = groups.at(-1);
    if (g && g.seats.join() === w.seats.join()) {
      g.last = w.decision_date;
      g.count++;
    } else groups.push({ first: w.decision_date, last: w.decision_date, count: 1, seats: w.seats });
  }
  return groups;
}
