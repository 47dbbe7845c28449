import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { asyncUrl, PERPLEXITY_ASYNC_PATHS } from '../../src/llm/async-job.js';
import { ConfigError } from '../../src/config/yaml-file.js';
import { describeProviders, resolveProviders, secretsOf } from '../../src/llm/providers.js';
import { FAKE_KEYS, testLlmConfig } from './fixtures.js';

describe('provider presets', () => {
  const config = testLlmConfig({
    providers: {
      ollama: { base_url: 'http://127.0.0.1:11434/v1', json_mode: 'prompt' },
      vllm: { base_url: 'http://gpu:8000/v1?token=abc', api_key_env: 'VLLM_API_KEY', json_mode: 'json_schema' },
    },
  });

  it('takes base URLs and keys from the environment, with OpenRouter attribution headers', () => {
    const env = parseEnv({ OPENROUTER_API_KEY: FAKE_KEYS.openrouter, PERPLEXITY_BASE_URL: 'http://127.0.0.1:9/pplx' });
    const providers = resolveProviders(env, config, {});
    const openrouter = providers.get('openrouter')!;
    expect(openrouter).toMatchObject({
      baseURL: 'https://openrouter.ai/api/v1',
      apiKey: FAKE_KEYS.openrouter,
      jsonMode: 'json_schema',
      requestUsageAccounting: true,
    });
    expect(openrouter.headers).toMatchObject({ 'X-Title': 'LLM Trading' });
    expect(openrouter.headers['HTTP-Referer']).toMatch(/^https:\/\//);
    expect(providers.get('perplexity')).toMatchObject({
      baseURL: 'http://127.0.0.1:9/pplx',
      baseUrlSetting: 'PERPLEXITY_BASE_URL',
      supportsAsync: true,
      asyncPaths: ['/v1/async/sonar', '/async/chat/completions'],
    });
    expect(providers.get('requesty')).toMatchObject({
      apiKey: undefined,
      supportsAsync: false,
      asyncPaths: [],
      requestUsageAccounting: false,
    });
  });

  it("places Perplexity's job API at the host root, whether the base URL ends in /v1 or not", () => {
    expect(PERPLEXITY_ASYNC_PATHS).toEqual(['/v1/async/sonar', '/async/chat/completions']);
    for (const base of [
      'https://api.perplexity.ai',
      'https://api.perplexity.ai/',
      'https://api.perplexity.ai/v1',
      'https://api.perplexity.ai/v1/',
    ]) {
      expect(asyncUrl(base, '/v1/async/sonar')).toBe('https://api.perplexity.ai/v1/async/sonar');
      expect(asyncUrl(base, '/v1/async/sonar/job 1')).toBe('https://api.perplexity.ai/v1/async/sonar/job%201');
      expect(asyncUrl(base, '/async/chat/completions')).toBe('https://api.perplexity.ai/async/chat/completions');
    }
    // A gateway in front of it keeps its own prefix and query.
    expect(asyncUrl('https://gw.example/pplx/v1?team=a', '/v1/async/sonar')).toBe('https://gw.example/pplx/v1/async/sonar?team=a');
  });

  it('declares custom OpenAI-compatible servers from config/llm.yaml', () => {
    const providers = resolveProviders(parseEnv({}), config, { VLLM_API_KEY: 'vllm-secret-key-123' });
    expect(providers.get('ollama')).toMatchObject({
      baseURL: 'http://127.0.0.1:11434/v1',
      apiKey: undefined,
      jsonMode: 'prompt',
      supportsJsonSchema: false,
      builtin: false,
    });
    expect(providers.get('vllm')).toMatchObject({ apiKey: 'vllm-secret-key-123', jsonMode: 'json_schema', supportsJsonSchema: true });
    expect(secretsOf(providers)).toEqual(['vllm-secret-key-123']);
  });

  it('describes providers with key presence only — never a key, a password or a URL token', () => {
    const env = parseEnv({ OPENROUTER_API_KEY: FAKE_KEYS.openrouter, REQUESTY_API_KEY: FAKE_KEYS.requesty });
    const described = describeProviders(env, config, { VLLM_API_KEY: 'vllm-secret-key-123' });
    expect(described.map((d) => [d.name, d.keyPresent, d.keyRequired])).toEqual([
      ['requesty', true, true],
      ['openrouter', true, true],
      ['perplexity', false, true],
      ['gemini', false, true],
      ['ollama', false, false],
      ['vllm', true, true],
    ]);
    const text = JSON.stringify(described);
    for (const secret of [FAKE_KEYS.openrouter, FAKE_KEYS.requesty, 'vllm-secret-key-123', 'token=abc']) expect(text).not.toContain(secret);
    expect(described.find((d) => d.name === 'vllm')?.baseURL).toBe('http://gpu:8000/v1');
  });
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('expected a throw');
}

describe('credentials in a base URL', () => {
  const basic = (userinfo: string) => `Basic ${Buffer.from(userinfo).toString('base64')}`;

  it('takes user:password out of a built-in base URL and keeps every form of it for the redactor', () => {
    const env = parseEnv({ REQUESTY_BASE_URL: 'https://proxy-user:S3cr%40t-pass@gw.example/v1', OPENROUTER_API_KEY: FAKE_KEYS.openrouter });
    const providers = resolveProviders(env, testLlmConfig(), {});
    const requesty = providers.get('requesty')!;
    expect(requesty.baseURL).toBe('https://gw.example/v1');
    expect(requesty.basicAuth).toEqual({ username: 'proxy-user', password: 'S3cr@t-pass' });
    expect(requesty.apiKey).toBeUndefined();
    expect(secretsOf(providers)).toEqual([
      'S3cr%40t-pass',
      'S3cr@t-pass',
      'proxy-user:S3cr%40t-pass',
      'proxy-user:S3cr@t-pass',
      basic('proxy-user:S3cr@t-pass').slice('Basic '.length),
      FAKE_KEYS.openrouter,
    ]);

    const described = describeProviders(env, testLlmConfig(), {});
    expect(described.find((d) => d.name === 'requesty')).toMatchObject({
      baseURL: 'https://gw.example/v1',
      keyPresent: true,
      auth: 'basic',
    });
    expect(described.find((d) => d.name === 'openrouter')).toMatchObject({ keyPresent: true, auth: 'bearer' });
    expect(described.find((d) => d.name === 'gemini')).toMatchObject({ keyPresent: false, auth: 'none' });
    expect(JSON.stringify(described)).not.toMatch(/S3cr|proxy-user/);
  });

  it('does the same for a custom provider, with or without api_key_env (then unset)', () => {
    const config = testLlmConfig({
      providers: {
        gateway: { base_url: 'http://me:hunter22@10.0.0.5:8080/v1', json_mode: 'json_object' },
        vllm: { base_url: 'http://TOKEN-abc123@gpu:8000/v1', api_key_env: 'VLLM_API_KEY' },
      },
    });
    const providers = resolveProviders(parseEnv({}), config, {});
    expect(providers.get('gateway')).toMatchObject({
      baseURL: 'http://10.0.0.5:8080/v1',
      basicAuth: { username: 'me', password: 'hunter22' },
    });
    // A user name alone (a token) is the credential: it is a secret too.
    expect(providers.get('vllm')).toMatchObject({ baseURL: 'http://gpu:8000/v1', basicAuth: { username: 'TOKEN-abc123', password: '' } });
    expect(secretsOf(providers)).toEqual(expect.arrayContaining(['hunter22', 'me:hunter22', 'TOKEN-abc123']));
  });

  it('refuses a provider with both a password in its base URL and an API key, in one line naming both', () => {
    const builtIn = () =>
      resolveProviders(
        parseEnv({ REQUESTY_BASE_URL: 'http://u:PASS-1234@gw/v1', REQUESTY_API_KEY: FAKE_KEYS.requesty }),
        testLlmConfig(),
        {},
      );
    expect(builtIn).toThrow(ConfigError);
    expect(builtIn).toThrow(
      /^REQUESTY_BASE_URL has a user name and password and REQUESTY_API_KEY is set too, .*: remove user:password@ from REQUESTY_BASE_URL, or unset REQUESTY_API_KEY/,
    );
    const custom = () =>
      describeProviders(
        parseEnv({}),
        testLlmConfig({ providers: { vllm: { base_url: 'http://u:PASS-1234@gpu/v1', api_key_env: 'VLLM_API_KEY' } } }),
        { VLLM_API_KEY: 'vllm-secret-key-123' },
      );
    expect(custom).toThrow(/^providers\.vllm\.base_url in config\/llm\.yaml has a user name and password and VLLM_API_KEY is set too/);
    for (const attempt of [builtIn, custom]) expect(messageOf(attempt)).not.toMatch(/PASS-1234|secret|\n/);
  });

  it('refuses a base URL that is not a URL, without quoting it', () => {
    const bad = () => resolveProviders(parseEnv({ GEMINI_BASE_URL: 'http://u:pa/ss@host:x/v1' }), testLlmConfig(), {});
    expect(bad).toThrow(/^GEMINI_BASE_URL: expected an http\(s\) URL/);
    expect(bad).not.toThrow(/pa\/ss/);
  });
});
