/**
 * What went wrong, in one line a user can act on; and the whole story for the log file.
 *
 * Errors reach us wrapped: drizzle wraps a driver error in "Failed query: <the SQL, dozens of lines>
 * params: …", PGlite and node-postgres report the server's message with a detail and a code, Node's
 * file system reports errno codes. describeError unwraps to the cause, names the constraint or the
 * disk problem, and never prints SQL text; fullErrorText keeps everything for `--verbose` and the log.
 */

/** Longest one-line description; longer ones are cut with an ellipsis. */
const MAX_LINE = 4000;

interface DatabaseLikeError {
  message: string;
  code?: unknown;
  detail?: unknown;
  constraint?: unknown;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files',
};

/** SQLSTATE classes worth naming in words. */
const SQLSTATE_TEXT: Record<string, string> = {
  '53100': 'no space left on device (the database could not write)',
  '53200': 'the database ran out of memory',
  '57014': 'the statement timed out (DB_COMMAND_TIMEOUT)',
  '40001': 'a concurrent transaction conflicted (serialization failure); retry',
  '40P01': 'a deadlock between concurrent transactions; retry',
};

export function describeError(error: unknown): string {
  return oneLine(describe(error, 0));
}

function describe(error: unknown, depth: number): string {
  if (depth > 5) return 'error';
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0], depth + 1);
  const errno = errnoOf(error);
  if (errno && ERRNO_TEXT[errno]) {
    const path = (error as NodeJS.ErrnoException).path;
    return `${ERRNO_TEXT[errno]}${path ? ` (${path})` : ''}`;
  }
  if (isDatabaseError(error)) {
    const code = typeof error.code === 'string' ? error.code : undefined;
    if (code && SQLSTATE_TEXT[code]) return SQLSTATE_TEXT[code];
    const detail = typeof error.detail === 'string' && error.detail !== '' ? `: ${error.detail}` : '';
    return `${firstLine(error.message)}${detail}`;
  }
  if (error instanceof Error) {
    // drizzle's DrizzleQueryError: "Failed query: <SQL> params: …" around the driver's error. The cause
    // says what went wrong; the SQL would only bury it.
    if (error.message.startsWith('Failed query:')) return error.cause ? describe(error.cause, depth + 1) : 'a database query failed';
    return firstLine(error.message);
  }
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return firstLine(message);
    try {
      return JSON.stringify(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}

/** Every message, stack and cause, for `--verbose` and the log file (secrets are the caller's concern). */
export function fullErrorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    if (current instanceof Error) {
      parts.push(current.stack ?? `${current.name}: ${current.message}`);
      const extra = current as Error & Partial<DatabaseLikeError>;
      if (typeof extra.detail === 'string') parts.push(`detail: ${extra.detail}`);
      if (typeof extra.code === 'string') parts.push(`code: ${extra.code}`);
      current = current.cause;
      if (current !== undefined) parts.push('caused by:');
    } else {
      parts.push(typeof current === 'object' ? safeJson(current) : String(current));
      break;
    }
  }
  return parts.join('\n');
}

/** Whether the error is the disk filling up, wherever in the chain it sits. */
export function isNoSpace(error: unknown): boolean {
  return anyInChain(error, (e) => errnoOf(e) === 'ENOSPC' || (isDatabaseError(e) && e.code === '53100'));
}

/** Whether `test` holds for the error or one of its causes (at most 6 deep). */
function anyInChain(error: unknown, test: (e: unknown) => boolean): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    if (test(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Network errors of a connection to a database server that went away. */
const CONNECTION_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether the error is a lost or refused connection to the database server (a restart, an
 * administrator ending sessions, the network), wherever in the chain it sits: SQLSTATE classes 08
 * (connection exception) and 57P (shutdown, crash, not accepting connections yet), socket errors,
 * and node-postgres's own words for a connection that ended under it.
 */
export function isConnectionLoss(error: unknown): boolean {
  return anyInChain(error, (e) => {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (/^08...$/.test(code) || /^57P0[1-3]$/.test(code) || CONNECTION_ERRNOS.has(code))) return true;
    const message = (e as { message?: unknown }).message;
    return (
      typeof message === 'string' &&
      /^Connection terminated|is not queryable|the database system is (shutting down|starting up)/.test(message)
    );
  });
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

function isDatabaseError(error: unknown): error is DatabaseLikeError {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as Partial<DatabaseLikeError> & { severity?: unknown };
  return typeof e.message === 'string' && (typeof e.severity === 'string' || (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)));
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE - 1)}…` : flat;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The database could not be opened (or reached), said with where it is: src/storage/db.ts. */
export class StorageError extends Error {
  override name = 'StorageError';
}

/**
 * What to add to the one line of a command that failed because its database connection went away
 * mid-command (a server restart, sessions ended, the network): that running it again is the remedy.
 * Not for a database that cannot be reached at all when the command starts (StorageError says where).
 */
export function connectionLossAdvice(error: unknown): string {
  if (error instanceof StorageError || error instanceof UserError || !isConnectionLoss(error)) return '';
  return ' (the connection to the database was lost: once it is back, run the command again; it resumes where it stopped)';
}

/**
 * A failure the user can act on from its message alone (a bad argument, config or date, a refused
 * command, a busy database): the CLI prints its one line and does not write a log entry.
 */
export class UserError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    // The subclass's own name in stacks and logs (ConfigError, TimeTravelError…), not "Error".
    this.name = new.target.name;
  }
}

/**
 * An error that must stop the whole run instead of counting as one seat's failure (the backtest's
 * LLM budget): a fan-out stage starts no further call, lets those in flight finish, and throws it, so
 * the stage commits nothing and a later run resumes it. Marked by a property, so any error class can
 * carry it.
 */
export interface StopsTheRun {
  readonly stopsTheRun: true;
}

export function stopsTheRun(error: unknown): error is Error & StopsTheRun {
  return error instanceof Error && (error as Partial<StopsTheRun>).stopsTheRun === true;
}

/**
 * Promise.all that waits for every promise before it rejects: a caller that fails on the first
 * rejection must not go on (close its store, delete its folder) while the others are still writing.
 * Rejects with the first rejection in order, once all have settled.
 */
export async function allThenThrow<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
