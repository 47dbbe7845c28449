import { describe, expect, it } from 'vitest';
import { alpacaRetryWait, failedBeforeSending, rateLimitResetMs } from './retry.js';

const settings = { max_attempts: 5, base_ms: 100, max_ms: 1000, max_retry_after_ms: 5000 };
const now = 1_700_000_000_000;

describe('Alpaca retry waits', () => {
  it('waits for X-RateLimit-Reset on a 429 (UNIX seconds), capped', () => {
    const headers = new Headers({ 'X-RateLimit-Limit': '200', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(now / 1000 + 3) });
    expect(rateLimitResetMs(headers, now)).toBe(3000);
    expect(alpacaRetryWait(1, 429, headers, settings, () => 0.5, now)).toBe(3000);
    const far = new Headers({ 'X-RateLimit-Reset': String(now / 1000 + 3600) });
    expect(alpacaRetryWait(1, 429, far, settings, () => 0.5, now)).toBe(5000);
  });

  it('lets Retry-After win, and ignores the reset time on a 5xx (Alpaca sends it on every response)', () => {
    const headers = new Headers({ 'Retry-After': '2', 'X-RateLimit-Reset': String(now / 1000 + 30) });
    expect(alpacaRetryWait(1, 429, headers, settings, () => 0.5, now)).toBe(2000);
    const onServerError = new Headers({ 'X-RateLimit-Reset': String(now / 1000 + 30) });
    expect(alpacaRetryWait(2, 503, onServerError, settings, () => 0.5, now)).toBe(100); // backoff: 0.5 × 100 × 2
  });

  it('falls back to backoff for a reset in the past or a missing header', () => {
    const past = new Headers({ 'X-RateLimit-Reset': String(now / 1000 - 5) });
    expect(alpacaRetryWait(3, 429, past, settings, () => 1, now)).toBe(400);
    expect(alpacaRetryWait(10, 429, undefined, settings, () => 1, now)).toBe(1000);
  });

  it('knows a refused connection sent nothing', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(failedBeforeSending(refused)).toBe(true);
    const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    expect(failedBeforeSending(reset)).toBe(false);
  });
});
