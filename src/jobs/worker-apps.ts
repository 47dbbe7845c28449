import type { App } from '../app.js';

interface Entry {
  app: Promise<App>;
  /** What the app was opened from (a backtest's settings): jobs that ask for another version get a new app. */
  version: string;
  jobs: number;
  retired: boolean;
  closing?: boolean;
}

/**
 * The apps a queue worker has open, by name: one per backtest it works on (src/backtest/jobs.ts), one
 * per portfolio and agent mode whose schedule slots it runs (src/schedule/jobs.ts). An app is opened by
 * the first job that needs it and shared by the later ones. It is closed once it is retired (a
 * backtest done, failed or deleted, or its last week booked here) and none of its jobs is still
 * running, and every app still open is closed when the worker stops. A `llm-trading worker` daemon goes
 * through many backtests: each app holds its agents, its market data and a file-writer thread, and an
 * app of BROKER=alpaca-mcp its MCP servers (child processes).
 */
export class WorkerApps {
  readonly #entries = new Map<string, Entry>();
  /** Apps the caller owns (see lend): used, never closed or dropped here. */
  readonly #lent = new Map<string, App>();

  constructor(private readonly open: (name: string) => Promise<App>) {}

  /**
   * Jobs of `name` use `app`, which the caller opened and closes after the worker (the `backtest`
   * command lends its own app to its worker: no second app, market data and file writer for the
   * same backtest in one process).
   */
  lend(name: string, app: App): void {
    this.#lent.set(name, app);
  }

  /**
   * Runs `job` with the backtest's app, opening it on first use (a failed open is tried again by the
   * next job). `version` says what the app must have been opened from: a backtest continued with other
   * settings (a raised --budget-usd) gets a new app, and the old one closes once its jobs have ended.
   */
  async with<T>(name: string, job: (app: App) => Promise<T>, version = ''): Promise<T> {
    const lent = this.#lent.get(name);
    if (lent) return job(lent);
    let entry = this.#entries.get(name);
    let stale: Entry | undefined;
    if (entry && entry.version !== version) {
      stale = entry;
      stale.retired = true;
      entry = undefined;
    }
    if (!entry) {
      entry = { app: this.open(name), version, jobs: 0, retired: false };
      this.#entries.set(name, entry);
    }
    // A backtest continued after it was retired here (failed, then run again) keeps the app its jobs still use.
    entry.retired = false;
    entry.jobs++;
    try {
      if (stale) await this.#closeIfDone(stale);
      let app: App;
      try {
        app = await entry.app;
      } catch (error) {
        if (this.#entries.get(name) === entry) this.#entries.delete(name);
        throw error;
      }
      return await job(app);
    } finally {
      entry.jobs--;
      await this.#closeIfDone(entry);
    }
  }

  /** The backtest needs nothing more from this process: its app closes when its last job here ends. */
  async retire(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry) return;
    entry.retired = true;
    await this.#closeIfDone(entry);
  }

  /** Closes every app (the worker has stopped: no job is running). */
  async closeAll(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) await closeApp(entry.app);
  }

  /** How many apps are open (tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** Closes a retired entry's app once no job uses it; an entry replaced by a newer version is no longer in the map. */
  async #closeIfDone(entry: Entry): Promise<void> {
    if (!entry.retired || entry.jobs > 0 || entry.closing) return;
    entry.closing = true;
    for (const [name, current] of this.#entries) if (current === entry) this.#entries.delete(name);
    await closeApp(entry.app);
  }
}

/** An app that never opened has nothing to close. */
async function closeApp(opening: Promise<App>): Promise<void> {
  const app = await opening.catch(() => null);
  await app?.close();
}
