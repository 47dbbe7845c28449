import type { WeeklyResult } from '../council/weekly-result.js';
import { describeReconciliation } from '../broker/subledger/reconciliation.js';
import { fmt, money, pad, pct, signed, wrap } from './format.js';

/** The human-readable end-of-run summary: the council's trade, each PM, the peer review, the accounts. */
export function renderSummary(result: WeeklyResult, options: { preview?: boolean } = {}): string {
  const lines: string[] = [];
  const offline = result.mode === 'offline';
  lines.push('');
  lines.push(
    `LLM Trading — week ${result.week_id}  (decision ${result.asof_et}, bars through ${result.data_through}, fills at the ${result.fill_date} open)`,
  );
  lines.push(
    `status: ${result.status}${offline ? '  ·  agents: OFFLINE deterministic quant personas (no LLM calls)' : `  ·  agents: ${result.mode}`}`,
  );

  if (result.research) {
    const r = result.research.macro_regime;
    const fallback = result.research.fallback;
    lines.push('', `Research (${result.research.model})`);
    if (fallback)
      lines.push(
        ...wrap(`FALLBACK: the research seat ${fallback.model} failed (${fallback.error}); the PMs read the offline analyst's pack`, 2),
      );
    lines.push(
      `  regime ${r.risk_mode} · rates ${r.rates_impulse} · USD ${r.usd_impulse} · inflation ${r.inflation_impulse} · growth ${r.growth_impulse}`,
    );
    lines.push(...wrap(r.summary, 2));
  }

  if (result.decision) {
    const d = result.decision;
    lines.push('', `Council decision (chairman: ${d.model})`);
    lines.push(
      `  ${d.selected_trade.direction} ${d.selected_trade.ticker}  conviction ${signed(d.conviction)}  horizon ${d.selected_trade.horizon}`,
    );
    lines.push(...wrap(d.rationale, 2));
    for (const dissent of d.dissent_summary)
      lines.push(...wrap(`dissent ${dissent.pitch_id} (${dissent.model}): ${dissent.key_concern}`, 2));
  }

  if (result.pitches.length > 0) {
    lines.push('', 'PM pitches and peer review (mean rank: 1 = best; score: rubric mean 1–10; votes: reviewers ranking it first)');
    lines.push(`  ${pad('seat', 10)}${pad('model', 24)}${pad('trade', 14)}${pad('conv', 6)}${pad('mean rank', 11)}${pad('score', 7)}votes`);
    for (const p of result.pitches) {
      const agg = result.aggregate.find((a) => a.seat === p.seat);
      const pitch = p.pitch as { selected_trade: { ticker: string; direction: string; conviction: number } } | null;
      const trade = pitch ? `${pitch.selected_trade.direction} ${pitch.selected_trade.ticker}` : 'FAILED';
      lines.push(
        `  ${pad(p.seat, 10)}${pad(p.model, 24)}${pad(trade, 14)}${pad(pitch ? signed(pitch.selected_trade.conviction) : '-', 6)}${pad(fmt(agg?.mean_rank), 11)}${pad(fmt(agg?.mean_score), 7)}${agg?.votes ?? '-'}`,
      );
      if (p.error) lines.push(`      error: ${p.error}`);
    }
  }

  if (result.accounts.some((a) => a.equity !== null)) {
    lines.push(
      '',
      result.broker === 'sim'
        ? `Paper accounts (simulated broker, fills at the ${result.fill_date} open; marks at that open)`
        : `Paper accounts (Alpaca ${result.reconciliation ? 'sub-ledgers of one paper account' : 'paper accounts'}, opening-auction orders for ${result.fill_date}; equity as Alpaca reports it)`,
    );
    lines.push(
      `  ${pad('acct', 6)}${pad('owner', 10)}${pad('agent', 26)}${pad('trade', 16)}${pad('order', 30)}${pad('position', 22)}equity`,
    );
    for (const a of result.accounts) {
      const trade = a.trade
        ? `${a.trade.direction} ${a.trade.ticker} ${signed(a.trade.conviction)}`
        : a.seat_failed
          ? 'seat failed'
          : 'no trade';
      const order = a.order
        ? `${a.order.side} ${a.order.qty} ${a.order.ticker} ${a.order.status === 'filled' ? `@ ${a.order.filled_avg_price?.toFixed(2)}` : a.order.status}`
        : '-';
      const position = a.position ? `${a.position.qty} ${a.position.ticker} @ ${a.position.avg_entry_price.toFixed(2)}` : 'flat';
      lines.push(
        `  ${pad(String(a.account_id), 6)}${pad(a.owner, 10)}${pad(a.agent ?? '-', 26)}${pad(trade, 16)}${pad(order, 30)}${pad(position, 22)}${money(a.equity)}`,
      );
      if (a.seat_failed && a.notes) lines.push(...wrap(a.notes, 8));
    }
  }

  if (result.reconciliation) lines.push('', ...describeReconciliation(result.reconciliation).split('\n'));

  if (result.status === 'pending_open') {
    const orders = result.pending_orders ?? [];
    lines.push(
      '',
      `Waiting for the ${result.fill_date} open: no bar for that day in the market data yet. ${orders.length} order${orders.length === 1 ? '' : 's'} will be placed at the open when the command is run again after the data has it:`,
    );
    for (const o of orders) lines.push(`  ${pad(String(o.account_id), 6)}${pad(`${o.side} ${o.qty} ${o.ticker}`, 24)}${o.client_order_id}`);
  }

  const held = result.held_to_week_end;
  if (held && options.preview !== false) {
    // The postmortem's own numbers (same definitions), so the summary never shows two P/Ls for one week.
    lines.push('', `The week, ${result.data_through} close → ${held.date} close (as \`llm-trading postmortem\` measures it)`);
    const ranked = [...held.accounts].sort((a, b) => b.pnl - a.pnl);
    for (const a of ranked)
      lines.push(`  ${pad(String(a.account_id), 6)}${pad(a.owner, 10)}${pad(a.agent, 26)}${pad(money(a.equity), 14)}${pct(a.pnl_pct)}`);
    lines.push(`  benchmarks: FLAT ${pct(held.benchmarks.flat_pct)} · SPY buy-and-hold ${pct(held.benchmarks.spy_buy_hold_pct)}`);
    const council = held.accounts.find((a) => a.owner === 'council');
    const vs = held.council_vs_individuals;
    if (council && vs.individuals_mean_pnl_pct !== null)
      lines.push(
        `  council ${pct(council.pnl_pct)} beat ${vs.beat} of ${vs.of} individual PMs (their mean ${pct(vs.individuals_mean_pnl_pct)}) this week`,
      );
  }

  lines.push(...usageLines(result.usage));
  const pending = Object.entries(result.stages)
    .filter(([, s]) => s === 'pending')
    .map(([name]) => name);
  if (pending.length > 0) lines.push(`pending stages: ${pending.join(', ')}`);
  return lines.join('\n');
}

/** The LLM usage table per seat and the totals line. */
export function usageLines(u: WeeklyResult['usage']): string[] {
  const lines: string[] = [];
  if (u.by_seat.length > 0) {
    lines.push('', 'LLM usage per seat (all attempts, re-asks and cache hits; cost + = some cost unknown)');
    lines.push(
      `  ${pad('stage', 13)}${pad('seat', 12)}${pad('calls', 7)}${pad('cached', 8)}${pad('failed', 8)}${pad('tokens in/out', 17)}${pad('cost', 11)}latency`,
    );
    for (const s of u.by_seat) {
      const tokens = `${s.prompt_tokens}/${s.completion_tokens}`;
      const cost = `$${s.cost_usd.toFixed(4)}${s.cost_incomplete ? '+' : ''}`;
      const counts = `${pad(String(s.calls), 7)}${pad(String(s.cache_hits), 8)}${pad(String(s.failed_calls), 8)}`;
      lines.push(`  ${pad(s.stage, 13)}${pad(s.seat, 12)}${counts}${pad(tokens, 17)}${pad(cost, 11)}${(s.latency_ms / 1000).toFixed(1)}s`);
    }
  }
  const totals = `${u.prompt_tokens} prompt + ${u.completion_tokens} completion tokens, $${u.cost_usd.toFixed(4)}`;
  lines.push('', `usage: ${u.calls} LLM calls (${u.cache_hits} from cache), ${totals}`);
  return lines;
}
