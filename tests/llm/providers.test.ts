import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { asyncUrl, PERPLEXITY_ASYNC_PATHS } from '../../src/llm/async-job.js';
import { describeProviders, resolveProviders, secretsOf } from '../../src/llm/providers.js';
import { FAKE_KEYS, testLlmConfig } from './fixtures.js';

describe('provider presets', () => {
  const config = testLlmConfig({
    providers: {
      ollama: { base_url: 'http://127.0.0.1:11434/v1', json_mode: 'prompt' },
      vllm: { base_url: 'http://user:pw@gpu:8000/v1?token=abc', api_key_env: 'VLLM_API_KEY', json_mode: 'json_schema' },
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
    for (const secret of [FAKE_KEYS.openrouter, FAKE_KEYS.requesty, 'vllm-secret-key-123', 'pw', 'token=abc'])
      expect(text).not.toContain(secret);
    expect(described.find((d) => d.name === 'vllm')?.baseURL).toBe('http://gpu:8000/v1');
  });
});
