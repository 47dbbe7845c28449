/**
 * When to try an Alpaca request again, and how long to wait.
 *
 * What is retried. 429 always: Alpaca refused the request before doing anything. 5xx, 408, timeouts
 * and dropped connections only for requests that are safe to repeat: reads, cancels, and order
 * submissions (the client_order_id makes a resend harmless: Alpaca answers 422 "client_order_id must be
 * unique" if the first one got through, and the caller looks the order up). Closing a position
 * (DELETE /v2/positions/{symbol}) is not safe to repeat — a second "close 50%" would sell half of what
 * is left — so after an ambiguous failure it is only retried when the connection was refused before
 * anything was sent.
 *
 * How long. A `Retry-After` header wins; on a 429, Alpaca's `X-RateLimit-Reset` (the UNIX second when
 * the quota refills) says when; otherwise exponential backoff with full jitter (src/llm/retry-policy.ts).
 * Alpaca sends the X-RateLimit-* headers on every response, so the reset time is only read on a 429.
 * Every server-advertised wait is capped by `max_retry_after_ms`, so a hostile header cannot stall a run.
 */
import { backoffDelay, retryAfterMs, type RetrySettings } from '../../llm/retry-policy.js';

export type { RetrySettings };

export const DEFAULT_ALPACA_RETRY: RetrySettings = {
  /** Tries in all, the first included. Alpaca's limit is 200 requests a minute per account. */
  max_attempts: 5,
  base_ms: 500,
  max_ms: 8_000,
  max_retry_after_ms: 60_000,
};

/** Milliseconds until X-RateLimit-Reset (UNIX seconds; a value in milliseconds is read as such), or null. */
export function rateLimitResetMs(headers: Headers | undefined, now: number = Date.now()): number | null {
  const value = headers?.get('x-ratelimit-reset')?.trim();
  if (!value || !/^\d+(\.\d+)?$/.test(value)) return null;
  const epoch = Number(value);
  const resetAt = epoch > 1e12 ? epoch : epoch * 1000;
  const wait = resetAt - now;
  return wait > 0 ? Math.ceil(wait) : null;
}

/** The wait before the next try; `attempt` is the try that just failed (1-based). */
export function alpacaRetryWait(
  attempt: number,
  status: number | null,
  headers: Headers | undefined,
  settings: RetrySettings,
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  const retryAfter = retryAfterMs(headers, now);
  if (retryAfter !== null) return Math.min(retryAfter, settings.max_retry_after_ms);
  if (status === 429) {
    const reset = rateLimitResetMs(headers, now);
    if (reset !== null) return Math.min(reset, settings.max_retry_after_ms);
  }
  return backoffDelay(attempt, settings, random);
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a fetch failure happened before the request could reach the server (safe to repeat anything). */
export function failedBeforeSending(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
