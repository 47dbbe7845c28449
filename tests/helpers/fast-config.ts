import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG_DIR } from '../../src/config/app-config.js';

/**
 * A copy of the shipped config/ with test-speed timings: async research polled every 20 ms, retry
 * backoff in milliseconds, and the given per-seat deadline. Everything else is the shipped config.
 */
export function fastConfigDir(
  options: {
    callDeadlineSeconds?: number;
    maxRepairs?: number;
    budgetUsd?: number;
    /** The checkpoint times of a day (fewer slots: a shorter week). */
    checkpoints?: string[];
    /** The output tokens the budget assumes for a call (a smaller estimate: a tighter cap to test). */
    budgetEstimateOutputTokens?: number;
  } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-config-'));
  cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
  const edit = (file: string, pairs: [RegExp, string][]) => {
    let text = readFileSync(join(dir, file), 'utf8');
    for (const [from, to] of pairs) {
      if (!from.test(text)) throw new Error(`fastConfigDir: ${file} has no ${from}`);
      text = text.replace(from, to);
    }
    writeFileSync(join(dir, file), text);
  };
  edit('llm.yaml', [
    [/poll_seconds: \d+/, 'poll_seconds: 0.02'],
    [/base_ms: \d+/, 'base_ms: 5'],
    [/max_ms: \d+/, 'max_ms: 20'],
    ...(options.maxRepairs !== undefined ? ([[/max_repairs: \d+/, `max_repairs: ${options.maxRepairs}`]] as [RegExp, string][]) : []),
    ...(options.budgetUsd !== undefined
      ? ([[/budget_usd_per_run: [\d.]+/, `budget_usd_per_run: ${options.budgetUsd}`]] as [RegExp, string][])
      : []),
    ...(options.budgetEstimateOutputTokens !== undefined
      ? ([[/budget_estimate_output_tokens: \d+/, `budget_estimate_output_tokens: ${options.budgetEstimateOutputTokens}`]] as [
          RegExp,
          string,
        ][])
      : []),
  ]);
  if (options.checkpoints !== undefined)
    edit('schedule.yaml', [[/checkpoints: \[[^\]]*\]/, `checkpoints: [${options.checkpoints.map((c) => `'${c}'`).join(', ')}]`]]);
  if (options.callDeadlineSeconds !== undefined)
    edit('models.yaml', [[/call_deadline_seconds: \d+/, `call_deadline_seconds: ${options.callDeadlineSeconds}`]]);
  return dir;
}
