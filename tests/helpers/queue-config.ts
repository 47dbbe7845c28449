import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG_DIR } from '../../src/config/app-config.js';

/**
 * A copy of the shipped config/ under `root` whose job-queue timings suit a test: jobs whose worker
 * stopped are looked for every second (src/jobs/leases.ts), retries start at once, and
 * (books_chunk_seconds) a backtest's books hand on to a new job after this many seconds. Jobs expire
 * only after 10 minutes, longer than any test waits: a killed worker's jobs come back through their
 * leases, or not at all.
 */
export function quickQueueConfig(root: string, booksChunkSeconds = 60): string {
  const dir = join(root, 'config');
  cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
  const schedule = join(dir, 'schedule.yaml');
  writeFileSync(
    schedule,
    readFileSync(schedule, 'utf8')
      .replace(/expire_seconds: \d+/, 'expire_seconds: 600')
      .replace(/orphan_check_seconds: \d+/, 'orphan_check_seconds: 1')
      .replace(/retry_delay_seconds: \d+/, 'retry_delay_seconds: 0')
      .replace(/books_chunk_seconds: \d+/, `books_chunk_seconds: ${booksChunkSeconds}`)
      .replace(/maintenance_seconds: \d+/, 'maintenance_seconds: 1'),
  );
  return dir;
}

/** Polls `check` every 50 ms until it holds, or fails naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
