import type { AccountUpdate, CheckpointResult } from '../checkpoint/engine.js';
import { pad } from './format.js';

const signed = (x: number) => (x > 0 ? `+${x}` : String(x));

function orderText(u: AccountUpdate): string {
  return u.orders
    .map((o) => `${o.side} ${o.qty} ${o.ticker} ${o.status}${o.filled_avg_price !== null ? ` @ ${o.filled_avg_price.toFixed(2)}` : ''}`)
    .join(', ');
}

/** One checkpoint as a table: each account's action, conviction, trigger verdict and orders. */
export function renderCheckpoint(r: CheckpointResult): string {
  const head = `checkpoint ${r.date} ${r.time} ET (week ${r.week_id}, portfolio ${r.portfolio})`;
  if (r.status === 'skipped') return `${head}: skipped — ${r.reason}`;
  const lines = [
    `${head}${r.already_run ? ` — already run (${r.reason ?? 'use --force to run it again'})` : ''}; orders fill at the ${r.time < '09:30' ? 'open' : 'close'}`,
  ];
  lines.push(`  ${pad('acct', 6)}${pad('owner', 10)}${pad('status', 9)}${pad('action', 8)}${pad('conv', 8)}${pad('trigger', 10)}orders`);
  for (const u of r.updates) {
    const trigger = u.trigger === null ? '-' : u.trigger.fired ? 'FIRED' : 'holds';
    lines.push(
      `  ${pad(String(u.account_id), 6)}${pad(u.owner, 10)}${pad(u.status, 9)}${pad(u.action, 8)}${pad(`${signed(u.conviction_before)}→${signed(u.conviction_after)}`, 8)}${pad(trigger, 10)}${orderText(u) || '-'}`,
    );
  }
  return lines.join('\n');
}

/**
 * Each account's conviction path through the week: the weekly conviction, then every checkpoint that
 * changed something (with its reason), and how many checkpoints it stayed.
 */
export function renderConvictionPaths(
  checkpoints: readonly CheckpointResult[],
  weekly: ReadonlyMap<number, { owner: string; conviction: number | null; trade: string }>,
): string {
  const lines = ['', 'The week, checkpoint by checkpoint (conviction path; every action other than STAY with its reason)'];
  const ran = checkpoints.filter((c) => c.status === 'completed');
  const skipped = checkpoints.filter((c) => c.status === 'skipped');
  for (const [accountId, w] of weekly) {
    const steps = ran.flatMap((c) => c.updates.filter((u) => u.account_id === accountId).map((u) => ({ c, u })));
    const path = [w.conviction ?? 0, ...steps.map((s) => s.u.conviction_after)];
    const stays = steps.filter((s) => s.u.action === 'STAY').length;
    lines.push(`  ${accountId} ${w.owner}: ${w.trade}; conviction ${compress(path)} (${stays} of ${steps.length} checkpoints STAY)`);
    for (const { c, u } of steps.filter((s) => s.u.action !== 'STAY' || s.u.status === 'failed')) {
      const orders = orderText(u);
      lines.push(
        `      ${c.date} ${c.time} ${u.action}${u.status === 'failed' ? ' (owner failed)' : ''} ${signed(u.conviction_before)}→${signed(u.conviction_after)}: ${u.reason}${orders ? ` [${orders}]` : ''}`,
      );
    }
  }
  if (skipped.length > 0) lines.push(`  skipped: ${skipped.map((c) => `${c.date} ${c.time} (${c.reason})`).join('; ')}`);
  return lines.join('\n');
}

/** "+2 → +1 → 0": consecutive repeats collapsed. */
function compress(path: readonly number[]): string {
  const out: number[] = [];
  for (const x of path) if (out.at(-1) !== x) out.push(x);
  return out.map(signed).join(' → ');
}
