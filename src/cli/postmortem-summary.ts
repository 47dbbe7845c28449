import type { Postmortem } from '../metrics/postmortem.js';
import { money, pad, pct } from './format.js';
import { usageLines } from './summary.js';

/** The human-readable postmortem: accounts ranked by P/L, the council against the PMs, benchmarks, cost. */
export function renderPostmortem(pm: Postmortem, options: { usage?: boolean } = {}): string {
  const lines: string[] = [];
  const span = `${pm.data_through} close → ${pm.through} close${pm.complete ? '' : `, week not over (ends ${pm.week_end})`}`;
  lines.push('', `Postmortem — week ${pm.week_id}, portfolio ${pm.portfolio} (${span})`);
  lines.push(
    `  ${pad('acct', 6)}${pad('owner', 10)}${pad('agent', 26)}${pad('P/L', 13)}${pad('P/L %', 9)}${pad('max DD', 8)}${pad('turnover', 10)}${pad('hit rate', 10)}${pad('conv vol', 10)}${pad('panic', 7)}end equity`,
  );
  for (const a of [...pm.accounts].sort((x, y) => y.pnl - x.pnl)) {
    const pnl = `${a.pnl >= 0 ? '+' : '-'}${money(Math.abs(a.pnl))}`;
    const dd = `${(a.max_drawdown * 100).toFixed(2)}%`;
    const hit = a.hit_rate === null ? '-' : `${Math.round(a.hit_rate * 100)}%`;
    lines.push(
      `  ${pad(String(a.account_id), 6)}${pad(a.owner, 10)}${pad(a.agent, 26)}${pad(pnl, 13)}${pad(pct(a.pnl_pct), 9)}${pad(dd, 8)}${pad(a.turnover.toFixed(2), 10)}${pad(hit, 10)}${pad(a.conviction_volatility.toFixed(2), 10)}${pad(String(a.panic_exits), 7)}${money(a.end_equity)}`,
    );
  }
  const b = pm.benchmarks;
  lines.push(
    `  benchmarks: FLAT ${pct(b.flat.pnl_pct)} · ${b.spy_buy_hold.ticker} buy-and-hold ${pct(b.spy_buy_hold.pnl_pct)} (max DD ${(b.spy_buy_hold.max_drawdown * 100).toFixed(2)}%)`,
  );
  const c = pm.council_vs_individuals;
  if (c.council && c.individuals_mean_pnl_pct !== null) {
    const best = c.best_individual ? `; best PM ${c.best_individual.owner} ${pct(c.best_individual.pnl_pct)}` : '';
    lines.push(
      `  council ${pct(c.council.pnl_pct)}: beat ${c.beat} of ${c.of} individual PMs, rank ${c.rank} of ${pm.accounts.length} (PM mean ${pct(c.individuals_mean_pnl_pct)}, median ${pct(c.individuals_median_pnl_pct ?? 0)}${best})`,
    );
  }
  for (const note of pm.notes) lines.push(`  note: ${note}`);
  if (options.usage !== false) lines.push(...usageLines(pm.usage));
  return lines.join('\n');
}
