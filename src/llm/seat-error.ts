import type { LlmCallRecord } from '../ports/llm.js';

/**
 * The seat could not produce a valid answer. The stage records `reason` as the seat's failure and goes
 * on with the others (quorum); there is never a default or guessed value in its place.
 */
export type SeatFailureKind =
  'invalid_output' | 'http_error' | 'network_error' | 'timeout' | 'aborted' | 'unknown_provider' | 'missing_key';

export class LlmSeatError extends Error {
  constructor(
    /** One line, secrets redacted, naming the model(s) tried and what went wrong. */
    readonly reason: string,
    /** Every call made for this request (failed attempts included), as recorded in the audit log. */
    readonly calls: readonly LlmCallRecord[],
    readonly kind: SeatFailureKind,
    /** e.g. "gpt (openrouter)", for the message. */
    who: string,
  ) {
    super(`${who}: ${reason}`);
    this.name = 'LlmSeatError';
  }
}
