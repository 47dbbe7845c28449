/**
 * Secret redaction for everything the LLM client stores, throws or logs. Provider error bodies and SDK
 * messages can echo request headers, so the configured key values (and base-URL credentials, see
 * secretsOf) are replaced wherever they appear, and so is anything shaped like a bearer token, a
 * provider key or the user:password of a URL even when it is not one of ours.
 */
export const REDACTED = '[REDACTED]';

/** Keys shorter than this are not treated as secrets: replacing "" or "x" everywhere would shred text. */
const MIN_SECRET_LENGTH = 4;

// `Bearer <token>` in echoed headers, and the common provider key shapes: OpenAI/OpenRouter/Requesty
// `sk-…`, Perplexity `pplx-…`, Google `AIza…`.
const TOKEN_PATTERNS: readonly RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\bsk-[A-Za-z0-9_-]{8,}/g,
  /\bpplx-[A-Za-z0-9_-]{8,}/g,
  /\bAIza[A-Za-z0-9_-]{20,}/g,
];

/** `scheme://user:password@` in any URL quoted in a message, ours or not (the password is often short). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@:]*:[^\s/?#@]*@/gi;

export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a key that contains another key is replaced whole.
  const sorted = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of sorted) out = out.split(secret).join(REDACTED);
  out = out.replace(URL_USERINFO, (_match, scheme: string) => `${scheme}${REDACTED}@`);
  for (const pattern of TOKEN_PATTERNS) {
    out = out.replace(pattern, (match) => (/^bearer/i.test(match) ? `Bearer ${REDACTED}` : REDACTED));
  }
  return out;
}

/** Redacts every string inside a JSON-like value (object keys included), returning a copy. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  return walk(value, secrets) as T;
}

function walk(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactSecrets(k, secrets), walk(v, secrets)]));
  }
  return value;
}
