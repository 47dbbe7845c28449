/**
 * A backtest's progress on stderr: weeks booked (and decided ahead), the rate, the ETA and, with LLM
 * seats, the calls and their cost so far. On a terminal one line redrawn in place (a bar); anywhere
 * else (a log file, CI) plain lines, one per week for short backtests and about every 2% or 10 s for
 * long ones, so a log stays readable.
 */
import type { BacktestProgress } from '../backtest/backtest.js';

export interface ProgressBar {
  update(progress: BacktestProgress): void;
  /** Ends the bar's line (a terminal) before other output follows. */
  done(): void;
}

const WIDTH = 24;

export function backtestProgressBar(
  write: (text: string) => void,
  tty: boolean,
  llm: boolean,
  now: () => number = performance.now.bind(performance),
): ProgressBar {
  const started = now();
  let startDone: number | null = null;
  let lastDone = -1;
  let lastLineAt = -Infinity;
  let drawn = false;
  return {
    update(p) {
      startDone ??= p.weeks_done;
      if (p.weeks_done === lastDone && !tty) return;
      const t = now();
      const ran = p.weeks_done - startDone;
      const seconds = (t - started) / 1000;
      const rate = ran > 0 && seconds > 0 ? ran / seconds : null;
      const left = p.weeks_total - p.weeks_done;
      const eta = rate ? ` · ETA ${duration(left / rate)}` : '';
      const llmPart = llm ? ` · ${p.llm_calls} calls $${p.llm_cost_usd.toFixed(2)}` : '';
      const ahead = p.weeks_decided > p.weeks_done ? ` (${p.weeks_decided} decided)` : '';
      const text = `${p.weeks_done}/${p.weeks_total} weeks${ahead}${rate ? ` · ${rate.toFixed(1)} weeks/s` : ''}${eta}${llmPart}`;
      if (tty) {
        const filled = Math.round((WIDTH * p.weeks_done) / Math.max(1, p.weeks_total));
        write(`\r\x1b[2K  [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${text}`);
        drawn = true;
      } else {
        const step = Math.max(1, Math.floor(p.weeks_total / 50));
        const due = p.weeks_total <= 60 || p.weeks_done === p.weeks_total || p.weeks_done - lastDone >= step || t - lastLineAt >= 10_000;
        if (!due) return;
        write(`  ${text}\n`);
        lastLineAt = t;
      }
      lastDone = p.weeks_done;
    },
    done() {
      if (drawn) write('\n');
      drawn = false;
    },
  };
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
