/**
 * When to try an LLM call again and how long to wait. Transient failures (rate limits, server errors,
 * dropped connections, timeouts) are retried with exponential backoff and full jitter, so parallel
 * seats hitting the same router do not retry in lock-step; a server's Retry-After wins when present,
 * capped so one hostile header cannot stall the weekly run.
 */
export interface RetrySettings {
  max_attempts: number;
  base_ms: number;
  max_ms: number;
  max_retry_after_ms: number;
}

/** 429 and 5xx are transient; 408 is the server reporting a timeout, which we retry like our own. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Full jitter: uniform in [0, min(max, base · 2^(attempt−1))]; `attempt` is the try that just failed (1-based). */
export function backoffDelay(attempt: number, settings: RetrySettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.max_ms, settings.base_ms * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110), plus the `retry-after-ms`
 * header some OpenAI-compatible servers send. Null when absent or unparseable.
 */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** How long to wait before the next try: the server's word (capped) or our backoff. */
export function retryWait(
  attempt: number,
  headers: Headers | undefined,
  settings: RetrySettings,
  random?: () => number,
  now?: number,
): number {
  const serverSays = retryAfterMs(headers, now);
  if (serverSays !== null) return Math.min(serverSays, settings.max_retry_after_ms);
  return backoffDelay(attempt, settings, random);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
