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
// `sk-…`, Perplexity `pplx-…`, Google `AIza…`. Each with what it cannot match without (`mark`): a
// prompt of tens of KB is searched for the mark first, far cheaper than running the pattern over it.
const TOKEN_PATTERNS: readonly { mark: RegExp; pattern: RegExp }[] = [
  { mark: /bearer/i, pattern: /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi },
  { mark: /sk-/, pattern: /\bsk-[A-Za-z0-9_-]{8,}/g },
  { mark: /pplx-/, pattern: /\bpplx-[A-Za-z0-9_-]{8,}/g },
  { mark: /AIza/, pattern: /\bAIza[A-Za-z0-9_-]{20,}/g },
];

/** `scheme://user:password@` in any URL quoted in a message, ours or not (the password is often short). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@:]*:[^\s/?#@]*@/gi;

export function redactSecrets(text: string, secrets: readonly string[]): string {
  return redactWith(text, secretsToReplace(secrets));
}

/** The secrets worth replacing, longest first, so a key that contains another key is replaced whole. */
function secretsToReplace(secrets: readonly string[]): string[] {
  return [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

// What the URL pattern cannot match without (it would otherwise be tried at every word boundary).
const URL_MARK = '://';

function redactWith(text: string, sorted: readonly string[]): string {
  let out = text;
  for (const secret of sorted) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  if (out.includes(URL_MARK)) out = out.replace(URL_USERINFO, (_match, scheme: string) => `${scheme}${REDACTED}@`);
  for (const { mark, pattern } of TOKEN_PATTERNS) {
    if (mark.test(out)) out = out.replace(pattern, (match) => (/^bearer/i.test(match) ? `Bearer ${REDACTED}` : REDACTED));
  }
  return out;
}

/**
 * The values redactDeep made, with the secrets they were redacted for. A call record is redacted by
 * the client and again by each sink that stores it (the database's, the artifacts'): with the same
 * secrets, the second and third passes over tens of KB of prompt found nothing new. They are frozen
 * (every object and array in them), so nothing can put a secret back after the pass.
 */
const redactedFor = new WeakMap<object, ReadonlySet<string>>();

/**
 * Redacts every string inside a JSON-like value (object keys included), returning a frozen copy — or
 * the value itself when redactDeep made it, for these secrets or more.
 */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  const sorted = secretsToReplace(secrets);
  if (typeof value === 'object' && value !== null) {
    const done = redactedFor.get(value);
    if (done && sorted.every((secret) => done.has(secret))) return value;
  }
  const copy = walk(value, sorted);
  if (typeof copy === 'object' && copy !== null) redactedFor.set(copy, new Set(sorted));
  return copy as T;
}

function walk(value: unknown, sorted: readonly string[]): unknown {
  if (typeof value === 'string') return redactWith(value, sorted);
  if (Array.isArray(value)) return Object.freeze(value.map((v) => walk(v, sorted)));
  if (value !== null && typeof value === 'object') {
    return Object.freeze(Object.fromEntries(Object.entries(value).map(([k, v]) => [redactWith(k, sorted), walk(v, sorted)])));
  }
  return value;
}
