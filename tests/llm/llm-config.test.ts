import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_DIR, loadConfig } from '../../src/config/app-config.js';
import { loadLlmConfig } from '../../src/llm/llm-config.js';
import { priceFor } from '../../src/llm/usage-cost.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function llmYamlWith(edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-llm-config-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'llm.yaml'), edit(readFileSync(join(DEFAULT_CONFIG_DIR, 'llm.yaml'), 'utf8')));
  return dir;
}

function errorOf(dir: string): string {
  try {
    loadLlmConfig(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config/llm.yaml', () => {
  it('loads the shipped file', () => {
    const config = loadLlmConfig();
    expect(config.retries.max_attempts).toBeGreaterThanOrEqual(1);
    expect(config.max_repairs).toBe(2);
    expect(config.cache.live).toBe('read_write');
    expect(config.providers).toEqual({});
    expect(config.timeouts.research_seconds).toBeGreaterThan(config.timeouts.call_seconds);
  });

  it('prices every model of every seat in config/models.yaml', () => {
    const config = loadLlmConfig();
    const missing = Object.values(loadConfig().models.seats)
      .flatMap((seat) => Object.entries(seat.models))
      .filter(([provider, model]) => !priceFor(config.prices, provider, model))
      .map(([provider, model]) => `${provider}/${model}`);
    expect(missing).toEqual([]);
  });

  it('names the file, the key and what was expected', () => {
    expect(errorOf(llmYamlWith((t) => t.replace('max_attempts: 4', 'max_attempts: 0')))).toMatch(
      /llm\.yaml: retries\.max_attempts: expected an integer >= 1/,
    );
    expect(errorOf(llmYamlWith((t) => t.replace('live: read_write', 'live: sometimes')))).toMatch(
      /llm\.yaml: cache\.live: expected read_write, write_only or off/,
    );
    expect(errorOf(llmYamlWith((t) => t.replace('output_per_mtok: 10.0', 'output_per_mtok: cheap')))).toMatch(
      /llm\.yaml: prices\.openai\/gpt-5\.1\.output_per_mtok: expected a number/,
    );
    expect(errorOf(llmYamlWith((t) => t.replace('base_ms: 1000', 'base_ms: 99999')))).toMatch(
      /llm\.yaml: retries\.base_ms: expected at most retries\.max_ms/,
    );
    expect(errorOf(llmYamlWith((t) => t.replace('poll_seconds: 10', 'poll_seconds: -1')))).toMatch(
      /llm\.yaml: timeouts\.poll_seconds: expected a positive number/,
    );
  });

  it('validates custom providers', () => {
    const withProvider = (block: string) => llmYamlWith((t) => t.replace(/^providers:$/m, `providers:\n${block}`));
    expect(loadLlmConfig(withProvider('  ollama:\n    base_url: http://127.0.0.1:11434/v1\n')).providers.ollama).toEqual({
      base_url: 'http://127.0.0.1:11434/v1',
      json_mode: 'json_object',
    });
    expect(errorOf(withProvider('  ollama:\n    base_url: localhost\n'))).toMatch(
      /llm\.yaml: providers\.ollama\.base_url: expected an http\(s\) URL/,
    );
    expect(errorOf(withProvider('  ollama:\n    base_url: http://x/v1\n    json_mode: yaml\n'))).toMatch(
      /providers\.ollama\.json_mode: expected json_schema, json_object or prompt/,
    );
    expect(errorOf(withProvider('  openrouter:\n    base_url: http://x/v1\n'))).toMatch(
      /providers\.openrouter: expected a name other than the built-in providers/,
    );
    expect(errorOf(withProvider('  vllm:\n    base_url: http://x/v1\n    api_key_env: my key\n'))).toMatch(
      /providers\.vllm\.api_key_env: expected the name of an environment variable/,
    );
  });

  it('reports broken YAML and a missing file with the file name', () => {
    expect(errorOf(llmYamlWith(() => 'retries: [unclosed'))).toMatch(/llm\.yaml: not valid YAML/);
    const dir = mkdtempSync(join(tmpdir(), 'lt-llm-config-'));
    dirs.push(dir);
    expect(errorOf(dir)).toMatch(/llm\.yaml: cannot read the file/);
  });
});
