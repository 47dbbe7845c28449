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
  });

  it('chooses the sub-ledger mode from the one key pair, and refuses a mix of the two ways or half a pair', () => {
    const pair = { APCA_API_KEY_ID: 'PKONE', APCA_API_SECRET_KEY: 'secret-one' };
    const one = parseEnv(pair);
    expect([one.broker, one.alpaca.mode]).toEqual(['alpaca', 'subledger']);
    expect(() => checkBrokerEnv(one)).not.toThrow();
    expect(() => checkBrokerEnv(parseEnv({ ...pair, BROKER: 'alpaca' }))).not.toThrow();
    expect(parseEnv({ ...pair, BROKER: 'sim' }).broker).toBe('sim');

    const six: NodeJS.ProcessEnv = {};
    for (let n = 1; n <= 6; n++) {
      six[`APCA_ACCT${n}_KEY_ID`] = `PKID000${n}`;
      six[`APCA_ACCT${n}_SECRET_KEY`] = `secret-000${n}`;
    }
    // All six pairs win over the default pair: the per-account keys are the more specific choice.
    const both = parseEnv({ ...six, ...pair });
    expect([both.broker, both.alpaca.mode]).toEqual(['alpaca', 'accounts']);
    expect(() => checkBrokerEnv(both)).not.toThrow();
    // Some of the six and the default pair: which way was meant is not clear — refused, naming both.
    const { APCA_ACCT5_SECRET_KEY: _gone, ...five } = six;
    void _gone;
    for (const env of [
      { ...five, ...pair },
      { ...five, ...pair, BROKER: 'alpaca' },
    ])
      expect(() => checkBrokerEnv(parseEnv(env))).toThrow(/both kinds of Alpaca keys .*missing APCA_ACCT5_SECRET_KEY/);
    expect(() => checkBrokerEnv(parseEnv({ APCA_API_KEY_ID: 'PKONE' }))).toThrow(/APCA_API_SECRET_KEY is missing/);
    expect(() => checkBrokerEnv(parseEnv({ BROKER: 'alpaca' }))).toThrow(/needs APCA_API_KEY_ID and APCA_API_SECRET_KEY .* or all six/);
    expect(secretsOfEnv(pair)).toEqual(expect.arrayContaining(['PKONE', 'secret-one']));
  });

  it('BROKER=alpaca-mcp with the one key pair is the sub-ledger mode through one server; a mix of the two ways is refused', () => {
    const pair = { APCA_API_KEY_ID: 'PKONE', APCA_API_SECRET_KEY: 'secret-one' };
    const one = parseEnv({ ...pair, BROKER: 'alpaca-mcp' });
    expect([one.broker, one.alpaca.mode]).toEqual(['alpaca-mcp', 'subledger']);
    expect(() => checkBrokerEnv(one)).not.toThrow();
    // Live keys go to Alpaca's live URL; any other trading URL is one the server cannot use.
    expect(() =>
      checkBrokerEnv(parseEnv({ ...pair, BROKER: 'alpaca-mcp', APCA_API_BASE_URL: 'https://api.alpaca.markets' })),
    ).not.toThrow();
    expect(() => checkBrokerEnv(parseEnv({ ...pair, BROKER: 'alpaca-mcp', APCA_API_BASE_URL: 'http://127.0.0.1:9' }))).toThrow(
      /BROKER=alpaca-mcp cannot use APCA_API_BASE_URL/,
    );

    const six: NodeJS.ProcessEnv = {};
    for (let n = 1; n <= 6; n++) {
      six[`APCA_ACCT${n}_KEY_ID`] = `PKID000${n}`;
      six[`APCA_ACCT${n}_SECRET_KEY`] = `secret-000${n}`;
    }
    // All six pairs win over the default pair, as with BROKER=alpaca.
    const both = parseEnv({ ...six, ...pair, BROKER: 'alpaca-mcp' });
    expect(both.alpaca.mode).toBe('accounts');
    expect(() => checkBrokerEnv(both)).not.toThrow();
    const { APCA_ACCT3_KEY_ID: _gone, ...five } = six;
    void _gone;
    expect(() => checkBrokerEnv(parseEnv({ ...five, ...pair, BROKER: 'alpaca-mcp' }))).toThrow(
      /both kinds of Alpaca keys .*missing APCA_ACCT3_KEY_ID/,
    );
    expect(() => checkBrokerEnv(parseEnv({ ...five, BROKER: 'alpaca-mcp' }))).toThrow(
      /BROKER=alpaca-mcp runs one alpaca-mcp-server per paper account .*; missing: APCA_ACCT3_KEY_ID$/,
    );
    expect(() => checkBrokerEnv(parseEnv({ APCA_API_SECRET_KEY: 'secret-one', BROKER: 'alpaca-mcp' }))).toThrow(
      /half of Alpaca's key pair is set: APCA_API_KEY_ID is missing/,
    );
    expect(() => checkBrokerEnv(parseEnv({ BROKER: 'alpaca-mcp' }))).toThrow(
      /BROKER=alpaca-mcp needs APCA_API_KEY_ID and APCA_API_SECRET_KEY .* or all six/,
    );
    for (const env of [
      { ...five, ...pair, BROKER: 'alpaca-mcp' },
      { APCA_API_SECRET_KEY: 'secret-one', BROKER: 'alpaca-mcp' },
    ]) {
      let message = '';
      try {
        checkBrokerEnv(parseEnv(env));
      } catch (error) {
        message = (error as Error).message;
      }
      for (const secret of ['PKONE', 'secret-one', 'secret-0001', 'PKID0001']) expect(message).not.toContain(secret);
    }
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
