import type { ProgressEvent, ProgressListener } from '../council/progress.js';

/** Prints progress as plain lines on stderr (readable in a terminal, a log file or CI). */
export function progressPrinter(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ProgressListener {
  return (event: ProgressEvent) => {
    switch (event.type) {
      case 'stage_started':
        write(`▸ ${event.stage} …`);
        break;
      case 'stage_skipped':
        write(`  ${event.stage}: skipped, ${event.reason}`);
        break;
      case 'stage_completed':
        write(`✔ ${event.stage} (${seconds(event.ms)})${event.summary ? `: ${event.summary}` : ''}`);
        break;
      case 'stage_failed':
        write(`✖ ${event.stage} (${seconds(event.ms)}): ${event.error}`);
        break;
      case 'seat_finished':
        write(`    ${event.ok ? '·' : '✖'} ${event.seat} ${seconds(event.ms)} ${event.detail}`);
        break;
      case 'waiting':
        write(`… waiting for ${event.what} (up to --lock-timeout)`);
        break;
    }
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 100 ? 2 : 1)}s`;
}
