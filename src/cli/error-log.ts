import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, fullErrorText } from '../errors.js';

/** Values that must never reach a log: every configured key (Alpaca key ids too), and the password of any URL. */
export function secretsOfEnv(env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (/(_KEY|_SECRET|_SECRET_KEY|_KEY_ID|_TOKEN|PASSWORD)$/.test(name) && value.trim().length >= 4) secrets.push(value.trim());
    for (const m of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^@\s/]+)@/gi)) if (m[1] && m[1].length >= 2) secrets.push(m[1]);
  }
  return secrets;
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) out = out.split(secret).join('[REDACTED]');
  // user:password@ in any URL, even one we did not know about.
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi, '$1[REDACTED]@');
}

/**
 * Appends the whole error (stack, causes, database detail) to LLM_TRADING_HOME/logs/llm-trading.log,
 * secrets redacted. Returns the log's path, or null when it cannot be written (a full disk): the
 * one-line message on stderr must still get out.
 */
export function logError(home: string, argv: readonly string[], error: unknown, secrets: readonly string[]): string | null {
  const dir = join(home, 'logs');
  const path = join(dir, 'llm-trading.log');
  const entry = [
    `--- ${new Date().toISOString()} pid ${process.pid}: llm-trading ${argv.join(' ')}`,
    describeError(error),
    fullErrorText(error),
    '',
  ].join('\n');
  try {
    mkdirSync(dir, { recursive: true });
    appendFileSync(path, redact(entry, secrets));
    return path;
  } catch {
    return null;
  }
}
