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

/** A command of the design that a later issue builds; it says so instead of "unknown command". */
export class PlannedCommandError extends UserError {}

/** The options every command shares (each command declares the ones it takes). */
export interface CommonOptions {
  json?: boolean;
  verbose?: boolean;
  portfolio?: string;
  lockTimeout?: number;
}
