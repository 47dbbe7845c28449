import { describe, expect, it } from 'vitest';
import { secretsOfEnv } from '../cli/error-log.js';
import { checkBrokerEnv, describeDatabaseUrl, EnvError, parseEnv } from './env.js';

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

  it('reads the six Alpaca key pairs, chooses the broker from them, and never logs a key id or secret', () => {
    const keys: NodeJS.ProcessEnv = {};
    for (let n = 1; n <= 6; n++) {
      keys[`APCA_ACCT${n}_KEY_ID`] = `PKID000${n}`;
      keys[`APCA_ACCT${n}_SECRET_KEY`] = `secret-000${n}`;
    }
    const env = parseEnv({ ...keys, APCA_API_BASE_URL: 'http://127.0.0.1:1/trading', ALPACA_FILL_TIMEOUT_SECONDS: '0.5' });
    expect(env.broker).toBe('alpaca');
    expect(env.brokerExplicit).toBe(false);
    expect(env.alpaca.accounts[3]).toEqual({ keyId: 'PKID0003', secretKey: 'secret-0003' });
    expect(env.alpaca.tradingBaseUrl).toBe('http://127.0.0.1:1/trading');
    expect(env.alpaca.fillTimeoutMs).toBe(500);
    expect(env.alpaca.orderWaitMs).toBe(60_000);
    expect(() => checkBrokerEnv(env)).not.toThrow();
    expect(secretsOfEnv(keys)).toEqual(expect.arrayContaining(['PKID0001', 'secret-0001', 'PKID0006', 'secret-0006']));

    const { APCA_ACCT2_KEY_ID: _dropped, ...partial } = keys;
    void _dropped;
    expect(parseEnv(partial).broker).toBe('sim');
    expect(() => checkBrokerEnv(parseEnv(partial))).toThrow(/missing APCA_ACCT2_KEY_ID/);
    expect(() => checkBrokerEnv(parseEnv({ ...partial, BROKER: 'sim' }))).not.toThrow();
    expect(() => checkBrokerEnv(parseEnv({ BROKER: 'alpaca', APCA_API_KEY_ID: 'a', APCA_API_SECRET_KEY: 'b' }))).toThrow(
      /sub-ledger mode .* not built yet/,
    );
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
