import { describeSeat } from '../backtest/contamination.js';
import { comparisonsOf, type BacktestReport, type Stats } from '../backtest/report.js';
import { count, pad, pct } from './format.js';

const num = (x: number | null, digits = 2) => (x === null ? '-' : x.toFixed(digits));
const pctOrDash = (x: number | null) => (x === null ? '-' : pct(x));
/** A share or a size: no sign. */
const share = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

function statsRow(label: string, width: number, s: Stats, extra = ''): string {
  return `  ${pad(label, width)}${pad(pct(s.total_return), 10)}${pad(pctOrDash(s.cagr), 9)}${pad(share(s.annualized_volatility), 9)}${pad(num(s.sharpe), 8)}${pad(num(s.sortino), 8)}${pad(share(s.max_drawdown), 9)}${pad(num(s.calmar), 8)}${pad(share(s.hit_rate), 8)}${extra}`;
}

const bp = (x: number | null) => (x === null ? '–' : (x * 1e4).toFixed(1));
/** The 95% interval in bp, or why there is none (too few weeks, see verdict.ts). */
const ci = (c: { ci_low: number | null; ci_high: number | null }) =>
  c.ci_low === null || c.ci_high === null ? 'none (too few weeks)' : `[${bp(c.ci_low)}, ${bp(c.ci_high)}] bp`;

/** The interval column, so the shares line up: wider than "[-123.4, -123.4] bp" and "none (too few weeks)" (a wider interval pushes its line on, never cut). */
const CI_WIDTH = 24;

/** The backtest in the terminal: the verdict first, then every account and the benchmarks. */
export function renderBacktestReport(r: BacktestReport): string {
  const lines = [
    '',
    `Backtest ${r.name} — ${count(r.weeks, 'week')} ${r.from_week}..${r.to_week} (${r.first_date} → ${r.last_date}), ${r.mode} agents, portfolio ${r.portfolio}`,
  ];
  lines.push('', `Verdict: ${r.verdict.sentence}`);
  for (const c of comparisonsOf(r.verdict))
    lines.push(
      `  council − ${pad(c.against, 16)} mean ${pad(`${bp(c.mean_diff)} bp`, 11)} 95% CI ${ci(c).padEnd(CI_WIDTH)} won ${share(c.share_of_weeks_won)} of weeks`,
    );
  lines.push(
    `  council drawdown ${r.verdict.drawdown_below_individuals_mean ? 'below' : 'not below'} the PMs' mean; block bootstrap: ${r.verdict.block_length}-week blocks, ${r.verdict.resamples} resamples, seed ${r.verdict.seed}${r.verdict.min_weeks_for_interval === undefined ? '' : `, an interval from ${r.verdict.min_weeks_for_interval} weeks on`}`,
  );
  const c = r.contamination;
  if (c && r.clean_verdict) {
    if (c.contaminated_weeks === 0)
      lines.push(
        `  clean weeks: all ${c.weeks.length} (${c.seats.every((s) => s.kind === 'offline') ? 'offline agents have no knowledge cutoff' : 'every decision day is after the knowledge cutoffs'})`,
      );
    else {
      lines.push(
        '',
        `Clean weeks: ${c.clean_weeks} of ${c.weeks.length} (${c.contaminated_weeks} contaminated: a decision day on or before a seat's knowledge cutoff)`,
      );
      lines.push(`  ${r.clean_verdict.sentence}`);
      const v = r.clean_verdict.verdict;
      if (v)
        lines.push(
          `  council − PMs' mean     mean ${pad(`${bp(v.vs_individuals_mean.mean_diff)} bp`, 11)} 95% CI ${ci(v.vs_individuals_mean).padEnd(CI_WIDTH)} won ${share(v.vs_individuals_mean.share_of_weeks_won)} of weeks`,
        );
      for (const s of c.seats) {
        const n = c.weeks.filter((w) => w.seats.includes(s.seat)).length;
        if (n > 0) lines.push(`  ${describeSeat(s)}: ${n} week${n === 1 ? '' : 's'} contaminated`);
      }
    }
  }
  // The account column fits its longest label (an account's agents, joined, can be long): never cut.
  const labels = r.accounts.map((a) => `${a.account_id} ${a.owner} (${Object.keys(a.agents).join(', ')})`);
  const width = Math.max(30, ...labels.map((l) => l.length + 2));
  lines.push(
    '',
    `  ${pad('account', width)}${pad('total', 10)}${pad('CAGR', 9)}${pad('vol', 9)}${pad('Sharpe', 8)}${pad('Sortino', 8)}${pad('max DD', 9)}${pad('Calmar', 8)}${pad('hit', 8)}turnover/wk  exposure  STAY/E/F/R   panic`,
  );
  r.accounts.forEach((a, i) =>
    lines.push(
      statsRow(
        labels[i] as string,
        width,
        a.stats,
        `${pad(a.turnover_per_week.toFixed(2), 13)}${pad(share(a.exposure), 10)}${pad(`${a.actions.STAY}/${a.actions.EXIT}/${a.actions.FLIP}/${a.actions.REDUCE}`, 13)}${a.panic_exits}`,
      ),
    ),
  );
  lines.push(statsRow('FLAT (cash)', width, r.benchmarks.flat));
  lines.push(statsRow(`${r.benchmarks.spy_buy_hold.ticker} buy-and-hold`, width, r.benchmarks.spy_buy_hold));
  lines.push(statsRow('equal-weight universe', width, r.benchmarks.equal_weight));
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}
