import { describe, expect, it } from 'vitest';
import { describeDatabaseUrl, EnvError, parseEnv } from './env.js';

describe('parseEnv', () => {
  it('defaults to the embedded, offline setup', () => {
    const env = parseEnv({});
    expect(env.databaseUrl).toBeUndefined();
    expect(env.llmProvider).toBe('offline');
    expect(env.broker).toBe('sim');
    expect(env.pool).toEqual({ min: 10, max: 50, commandTimeoutMs: 60_000 });
    expect(env.home.endsWith('.llm-trading')).toBe(true);
    expect(env.baseUrls.requesty).toBe('https://router.requesty.ai/v1');
  });

  it('picks the router from the keys present and accepts the seed spelling REQUSTY_API_KEY', () => {
    expect(parseEnv({ OPENROUTER_API_KEY: 'k' }).llmProvider).toBe('openrouter');
    expect(parseEnv({ REQUSTY_API_KEY: 'k' }).keys.requesty).toBe('k');
    expect(parseEnv({ REQUESTY_API_KEY: 'k', LLM_PROVIDER: 'offline' }).llmProvider).toBe('offline');
    expect(parseEnv({ LLM_PROVIDER: '' }).llmProvider).toBe('offline');
  });

  it('rejects bad values naming the variable', () => {
    expect(() => parseEnv({ DB_MAX_POOL_SIZE: 'lots' })).toThrow(EnvError);
    expect(() => parseEnv({ DB_MAX_POOL_SIZE: 'lots' })).toThrow(
      'environment variable DB_MAX_POOL_SIZE: expected a positive number, got "lots"',
    );
    expect(() => parseEnv({ BROKER: 'ibkr' })).toThrow(/environment variable BROKER/);
  });

  it('never shows a database password', () => {
    expect(describeDatabaseUrl('postgres://user:hunter2@db.example:5432/trading')).toBe('postgresql://user@db.example:5432/trading');
  });
});
