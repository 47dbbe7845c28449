/**
 * The postmortem as a Markdown page: a verdict line, the accounts table, the benchmarks, the council
 * against the individual PMs, each account's conviction path through the checkpoints, the notes and
 * the metric definitions. Pure: it formats what postmortem.ts measured and adds no number of its own.
 *
 * Reasons and notes are model or operator text: they are escaped so that a pipe cannot break the
 * table and a line break or an HTML tag cannot restructure the page.
 */
import { METRIC_DEFINITIONS } from './definitions.js';
import type { AccountWeek, CouncilVsIndividuals } from './week-performance.js';

/** One checkpoint decision of an account, as the checkpoint engine recorded it. */
export interface ConvictionStep {
  /** New York time of the checkpoint, as displayed (e.g. '2024-03-07 12:00'). */
  at_et: string;
  action: string;
  conviction_before: number;
  conviction_after: number;
  reason: string;
  /** The invalidation trigger that fired, or null when it had not. */
  invalidation_fired: string | null;
}

export interface ConvictionPathReport {
  account_id: number;
  owner: string;
  /** In time order. */
  steps: readonly ConvictionStep[];
}

/** What the report reads of a postmortem (postmortem.ts's Postmortem satisfies it). */
export interface PostmortemLike {
  portfolio: string;
  week_id: string;
  data_through: string;
  through: string;
  week_end: string;
  complete: boolean;
  accounts: readonly (AccountWeek & { agent: string })[];
  council_vs_individuals: CouncilVsIndividuals;
  benchmarks: {
    flat: { pnl_pct: number; max_drawdown: number };
    spy_buy_hold: { ticker: string; pnl_pct: number; max_drawdown: number };
  };
  /** Checkpoints evaluated this week. */
  checkpoints: number;
  notes: readonly string[];
  conviction_paths?: readonly ConvictionPathReport[];
}

export function renderPostmortemMarkdown(pm: PostmortemLike): string {
  const sections = [
    [`# Postmortem — week ${inline(pm.week_id)}, portfolio ${inline(pm.portfolio)}`, '', span(pm), '', `**Verdict:** ${verdict(pm)}`],
    accountsTable(pm),
    benchmarks(pm),
    councilSection(pm),
    convictionPaths(pm),
    ['## Notes', '', ...(pm.notes.length === 0 ? ['None.'] : pm.notes.map((n) => `- ${inline(n)}`))],
    ['## Definitions', '', ...METRIC_DEFINITIONS.map((d) => `- **${d.metric}**: ${d.definition}`)],
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

function span(pm: PostmortemLike): string {
  const status = pm.complete ? 'the week is complete' : `the week is not over: it ends ${pm.week_end}`;
  return `Measured from the ${pm.data_through} close to the ${pm.through} close (${status}); ${pm.checkpoints} checkpoint${pm.checkpoints === 1 ? '' : 's'} evaluated.`;
}

/** The council against the PM mean and the benchmark, in one sentence. */
function verdict(pm: PostmortemLike): string {
  const c = pm.council_vs_individuals;
  const spy = pm.benchmarks.spy_buy_hold;
  const spyText = `${inline(spy.ticker)} buy-and-hold ${pct(spy.pnl_pct)}`;
  if (!c.council) {
    if (c.individuals_mean_pnl_pct === null) return `no account was measured; ${spyText}.`;
    return `the council did not trade; the PMs averaged ${pct(c.individuals_mean_pnl_pct)} against ${spyText}.`;
  }
  const mine = c.council.pnl_pct;
  if (c.individuals_mean_pnl_pct === null)
    return `the council made ${pct(mine)} against ${spyText}: ${compare(mine, spy.pnl_pct)} ${inline(spy.ticker)}.`;
  return (
    `the council made ${pct(mine)} against a PM mean of ${pct(c.individuals_mean_pnl_pct)} and ${spyText}: ` +
    `${compare(mine, c.individuals_mean_pnl_pct)} the PMs, ${compare(mine, spy.pnl_pct)} ${inline(spy.ticker)}.`
  );
}

function compare(a: number, b: number): string {
  return a > b ? 'ahead of' : a < b ? 'behind' : 'level with';
}

const ACCOUNT_COLUMNS: readonly [string, 'left' | 'right'][] = [
  ['Account', 'right'],
  ['Owner', 'left'],
  ['Agent', 'left'],
  ['P/L $', 'right'],
  ['P/L %', 'right'],
  ['Max DD close', 'right'],
  ['Max DD intraday', 'right'],
  ['Turnover', 'right'],
  ['Hit rate', 'right'],
  ['Conv. vol', 'right'],
  ['Conv. changes', 'right'],
  ['Panic exits', 'right'],
  ['Actions S/E/F/R', 'right'],
];

/** Accounts by P/L, best first. */
function accountsTable(pm: PostmortemLike): string[] {
  const rows = [...pm.accounts]
    .sort((a, b) => b.pnl - a.pnl || a.account_id - b.account_id)
    .map((a) =>
      row([
        String(a.account_id),
        inline(a.owner),
        inline(a.agent),
        dollars(a.pnl),
        pct(a.pnl_pct),
        share(a.max_drawdown),
        share(a.max_drawdown_intraday),
        `${a.turnover.toFixed(2)}x`,
        a.hit_rate === null ? '—' : `${Math.round(a.hit_rate * 100)}%`,
        a.conviction_volatility.toFixed(2),
        String(a.conviction_changes),
        String(a.panic_exits),
        `${a.actions.STAY}/${a.actions.EXIT}/${a.actions.FLIP}/${a.actions.REDUCE}`,
      ]),
    );
  return [
    '## Accounts',
    '',
    row(ACCOUNT_COLUMNS.map(([name]) => name)),
    row(ACCOUNT_COLUMNS.map(([, align]) => (align === 'right' ? '---:' : ':---'))),
    ...rows,
  ];
}

function benchmarks(pm: PostmortemLike): string[] {
  const { flat, spy_buy_hold: spy } = pm.benchmarks;
  return [
    '## Benchmarks',
    '',
    row(['Benchmark', 'P/L %', 'Max DD close']),
    row([':---', '---:', '---:']),
    row(['FLAT (cash)', pct(flat.pnl_pct), share(flat.max_drawdown)]),
    row([`${inline(spy.ticker)} buy-and-hold`, pct(spy.pnl_pct), share(spy.max_drawdown)]),
  ];
}

function councilSection(pm: PostmortemLike): string[] {
  const c = pm.council_vs_individuals;
  const lines = ['## Council vs the individual PMs', ''];
  if (c.council) {
    lines.push(`- Council (account ${c.council.account_id}): ${dollars(c.council.pnl)} (${pct(c.council.pnl_pct)})`);
    lines.push(`- Beat ${c.beat} of ${c.of} individual PMs; rank ${c.rank ?? '—'} of ${pm.accounts.length} accounts`);
  } else lines.push('- The council did not trade this week.');
  if (c.individuals_mean_pnl_pct !== null)
    lines.push(
      `- PM mean ${pct(c.individuals_mean_pnl_pct)}, median ${c.individuals_median_pnl_pct === null ? '—' : pct(c.individuals_median_pnl_pct)}`,
    );
  if (c.best_individual) lines.push(`- Best PM: ${inline(c.best_individual.owner)} ${pct(c.best_individual.pnl_pct)}`);
  if (c.worst_individual) lines.push(`- Worst PM: ${inline(c.worst_individual.owner)} ${pct(c.worst_individual.pnl_pct)}`);
  return lines;
}

/**
 * Each account's path: the measured conviction numbers, then its checkpoint steps. Runs of STAY are
 * folded into a count (most checkpoints change nothing, and listing them would bury the decisions);
 * every other step is listed with its trigger verdict and reason.
 */
function convictionPaths(pm: PostmortemLike): string[] {
  const lines = ['## Conviction paths'];
  for (const a of [...pm.accounts].sort((x, y) => x.account_id - y.account_id)) {
    lines.push('', `### ${inline(a.owner)} (account ${a.account_id})`, '');
    lines.push(
      a.conviction_path.length === 0
        ? 'Path: none (no weekly trade and no checkpoint action).'
        : `Path: ${a.conviction_path.map(signed).join(' → ')} (volatility ${a.conviction_volatility.toFixed(2)}, ${a.conviction_changes} change${a.conviction_changes === 1 ? '' : 's'}, ${a.panic_exits} panic exit${a.panic_exits === 1 ? '' : 's'})`,
    );
    const steps = pm.conviction_paths?.find((p) => p.account_id === a.account_id)?.steps ?? [];
    if (steps.length > 0) lines.push('', ...stepLines(steps));
  }
  return lines;
}

const PANIC_ACTIONS: ReadonlySet<string> = new Set(['EXIT', 'FLIP', 'REDUCE']);

function stepLines(steps: readonly ConvictionStep[]): string[] {
  const lines: string[] = [];
  let stays: ConvictionStep[] = [];
  const flushStays = () => {
    const first = stays[0];
    const last = stays.at(-1);
    if (first && last)
      lines.push(
        stays.length === 1
          ? `- STAY at ${inline(first.at_et)} ET`
          : `- STAY × ${stays.length} (${inline(first.at_et)} … ${inline(last.at_et)} ET)`,
      );
    stays = [];
  };
  for (const step of steps) {
    if (step.action === 'STAY') {
      stays.push(step);
      continue;
    }
    flushStays();
    // The same rule as panic_exits (week-performance.ts): a cut or reversal without the trigger.
    const panic = PANIC_ACTIONS.has(step.action) ? ' (panic exit)' : '';
    const trigger = step.invalidation_fired === null ? `trigger not fired${panic}` : `trigger fired: ${inline(step.invalidation_fired)}`;
    lines.push(
      `- ${inline(step.at_et)} ET **${inline(step.action)}** ${signed(step.conviction_before)} → ${signed(step.conviction_after)}, ${trigger}. ${inline(step.reason)}`,
    );
  }
  flushStays();
  return lines;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Free text on one Markdown line: no line breaks, no table-breaking pipes, no raw HTML. */
export function inline(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim();
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** A signed fraction as a percentage: 0.0174 → '+1.74%'. */
function pct(x: number): string {
  return `${x > 0 ? '+' : x < 0 ? '-' : ''}${(Math.abs(x) * 100).toFixed(2)}%`;
}

/** An unsigned fraction as a percentage: 0.0248 → '2.48%'. */
function share(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** Signed dollars with thousands separators: −175 → '-$175.00'. */
function dollars(x: number): string {
  const abs = Math.abs(x).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${x > 0 ? '+' : x < 0 ? '-' : ''}$${abs}`;
}
