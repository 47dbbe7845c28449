import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_DIR, loadConfig } from './app-config.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A copy of the shipped config with one file's text changed. */
function configWith(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-config-'));
  dirs.push(dir);
  cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), 'utf8')));
  return dir;
}

function errorOf(dir: string): string {
  try {
    loadConfig(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('loads the shipped config: ten instruments, five PMs, six accounts', () => {
    const config = loadConfig();
    expect(config.tickers).toEqual(['SPY', 'QQQ', 'IWM', 'TLT', 'IEF', 'HYG', 'LQD', 'UUP', 'GLD', 'USO']);
    expect(config.pmSeats).toEqual(['gpt', 'gemini', 'sonnet', 'grok', 'deepseek']);
    expect(config.models.accounts.find((a) => a.id === 5)?.owner).toBe('council');
    expect(config.schedule.checkpoints).toEqual(['09:00', '12:00', '14:00', '15:50']);
    expect(config.schedule.weekly).toEqual({ day: 'wednesday', time: '08:00' });
    // Knowledge cutoffs: a date per LLM model, `web` for the web-searching researcher (strings, not YAML timestamps).
    expect(Object.fromEntries(Object.entries(config.models.seats).map(([seat, s]) => [seat, s.knowledge_cutoff]))).toEqual({
      researcher: 'web',
      gpt: '2024-09-30',
      gemini: '2025-01-31',
      sonnet: '2025-07-31',
      grok: '2024-11-30',
      deepseek: '2024-07-31',
      chairman: '2025-08-31',
    });
  });

  it('names the file, the key and what was expected', () => {
    expect(errorOf(configWith('models.yaml', (t) => t.replace('max_position: 0.95', 'max_position: 3')))).toMatch(
      /models\.yaml: risk\.max_position: .*(<=|less than or equal).*1/i,
    );
    expect(errorOf(configWith('schedule.yaml', (t) => t.replace(/['"]12:00['"]/, '"12:75"')))).toMatch(
      /schedule\.yaml: checkpoints\.1: expected HH:MM/,
    );
    expect(errorOf(configWith('assets.yaml', (t) => t.replace('ticker: IWM', 'ticker: iwm')))).toMatch(
      /assets\.yaml: assets\.2\.ticker: expected an upper-case ticker symbol/,
    );
    expect(errorOf(configWith('models.yaml', (t) => t.replace('{ id: 4, owner: grok }', '{ id: 4, owner: claude }')))).toMatch(
      /models\.yaml: accounts\.3\.owner: expected "council" or a PM seat/,
    );
    expect(errorOf(configWith('models.yaml', (t) => t.replace('quorum: 3', 'quorum: 9')))).toMatch(
      /models\.yaml: council\.quorum: expected at most 5/,
    );
    expect(errorOf(configWith('models.yaml', (t) => t.replace('knowledge_cutoff: 2024-09-30', 'knowledge_cutoff: 2024-09-31')))).toMatch(
      /models\.yaml: seats\.gpt\.knowledge_cutoff: expected a date YYYY-MM-DD \(the last day the model may have seen\) or web \(it searches the web\)$/,
    );
  });

  it('reports broken YAML and missing files with the file name', () => {
    expect(errorOf(configWith('assets.yaml', () => 'assets: [unclosed'))).toMatch(/assets\.yaml: not valid YAML/);
    const dir = configWith('assets.yaml', (t) => t);
    rmSync(join(dir, 'schedule.yaml'));
    expect(errorOf(dir)).toMatch(/schedule\.yaml: cannot read the file/);
  });
});
