import { UserError } from '../errors.js';

/** What a command writes to and reads from; the real process streams, or strings in tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** stderr is a terminal: progress may redraw one line (else it prints plain lines). */
  stderrIsTTY?: boolean;
}

/** A failure the user caused or can fix; printed as one line, exit code 1. */
export class UsageError extends UserError {}

/**
 * A long command stopped by Ctrl-C or SIGTERM at a safe point, leaving its work resumable. Exits as
 * a shell reports a process ended by that signal (128 + its number: 130, 143), so a script or a job
 * runner can tell an interruption from a failure.
 */
export class InterruptedError extends UsageError {
  readonly exitCode: number;
  constructor(signal: 'SIGINT' | 'SIGTERM', message = 'interrupted: run the same command again to continue') {
    super(message);
    this.exitCode = 128 + (signal === 'SIGINT' ? 2 : 15);
  }
}

/** A command of the design that a later issue builds; it says so instead of "unknown command". */
export class PlannedCommandError extends UserError {}

/** The options every command shares (each command declares the ones it takes). */
export interface CommonOptions {
  json?: boolean;
  verbose?: boolean;
  portfolio?: string;
  lockTimeout?: number;
}
