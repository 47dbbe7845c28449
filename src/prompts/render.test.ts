import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROMPTS_DIR_ENV, PromptTemplateError, renderPrompt, splitSections } from './render.js';
import { displayPath, parseNunjucksMessage } from './template-error.js';

let root: string;
let dir: string;

/** A project-like temp tree, <root>/config/prompts, with the working directory at <root>. */
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'llmt-prompts-'));
  dir = join(root, 'config', 'prompts');
  mkdirSync(dir, { recursive: true });
  vi.spyOn(process, 'cwd').mockReturnValue(root);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(root, { recursive: true, force: true });
});

function template(name: string, lines: string[]): void {
  writeFileSync(join(dir, name), lines.join('\n'));
}

function errorOf(fn: () => unknown): PromptTemplateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PromptTemplateError);
    return error as PromptTemplateError;
  }
  throw new Error('expected a PromptTemplateError');
}

const GOOD = [
  '{# a comment before the system section #}',
  '<!-- system -->',
  'You rank {{ n }} instruments.',
  '',
  '<!-- user -->',
  'Week {{ week_id }}',
  '{{ data }}',
];

describe('renderPrompt', () => {
  it('renders the system section and the user section as two messages, trimmed', () => {
    template('ok.md', GOOD);
    expect(renderPrompt('ok', { n: 10, week_id: '2025-06-25', data: '| SPY | 606.78 |' }, { dir })).toEqual([
      { role: 'system', content: 'You rank 10 instruments.' },
      { role: 'user', content: 'Week 2025-06-25\n| SPY | 606.78 |' },
    ]);
  });

  it('prints values verbatim (no HTML escaping) and splits at the first user marker only', () => {
    template('ok.md', GOOD);
    const data = '<b>"quoted" & raw</b>\n<!-- user -->\nstill data';
    const [system, user] = renderPrompt('ok.md', { n: 1, week_id: 'w', data }, { dir });
    expect(system?.content).toBe('You rank 1 instruments.');
    expect(user?.content).toBe(`Week w\n${data}`);
  });

  it('reads $LLM_TRADING_PROMPTS_DIR, and an explicit dir wins over it', () => {
    template('ok.md', GOOD);
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'ok.md'), '<!-- system -->\nother system\n<!-- user -->\nother user');
    vi.stubEnv(PROMPTS_DIR_ENV, other);
    expect(renderPrompt('ok', {})[0]?.content).toBe('other system');
    expect(renderPrompt('ok', { n: 2, week_id: 'w', data: 'd' }, { dir })[0]?.content).toBe('You rank 2 instruments.');
  });

  it('picks up an edited template without a restart', () => {
    template('ok.md', GOOD);
    expect(renderPrompt('ok', { n: 1, week_id: 'w', data: 'd' }, { dir })[0]?.content).toBe('You rank 1 instruments.');
    template('ok.md', ['<!-- system -->', 'Edited.', '<!-- user -->', 'u']);
    expect(renderPrompt('ok', {}, { dir })[0]?.content).toBe('Edited.');
  });
});

describe('template errors name the file and the line', () => {
  it('a syntax error', () => {
    template('pm_pitch.md', ['<!-- system -->', 'Rules.', '{% if %}', '<!-- user -->', '{{ week_id }}']);
    const error = errorOf(() => renderPrompt('pm_pitch', { week_id: 'w' }, { dir }));
    expect(error.message).toBe('config/prompts/pm_pitch.md:3: unexpected token: %}');
    expect(error).toMatchObject({ file: 'config/prompts/pm_pitch.md', line: 3, detail: 'unexpected token: %}' });
  });

  it('an unclosed block or output tag (nunjucks says only "end of file": the opening tag is found)', () => {
    template('broken.md', ['<!-- system -->', '{% for a in universe %}', '{% if a %}- {{ a }}{% endif %}', '<!-- user -->', 'x']);
    expect(errorOf(() => renderPrompt('broken', { universe: ['SPY'] }, { dir })).message).toBe(
      'config/prompts/broken.md:2: unexpected end of file ({% for %} opened here is never closed)',
    );
    template('open.md', ['<!-- system -->', 's', '<!-- user -->', 'Week {{ week_id ']);
    expect(errorOf(() => renderPrompt('open', { week_id: 'w' }, { dir })).message).toBe(
      'config/prompts/open.md:4: expected variable end ("{{" opened here is never closed)',
    );
  });

  it('an undefined variable, naming the expression', () => {
    template('chairman.md', ['<!-- system -->', 'You are the CIO.', '<!-- user -->', 'Week {{ week_id }}', 'Pitches: {{ pitch_ids }}']);
    expect(errorOf(() => renderPrompt('chairman', { week_id: 'w' }, { dir })).message).toBe(
      'config/prompts/chairman.md:5: {{ pitch_ids }} is undefined or null (a variable the caller did not pass?)',
    );
  });

  it('a null value, which a prompt must never print as an empty string', () => {
    template('n.md', ['<!-- system -->', 's', '<!-- user -->', 'close {{ close }}']);
    expect(errorOf(() => renderPrompt('n', { close: null }, { dir })).message).toBe(
      'config/prompts/n.md:4: {{ close }} is undefined or null (a variable the caller did not pass?)',
    );
  });

  it('an unknown filter (nunjucks gives no line: found in the source)', () => {
    template('f.md', ['<!-- system -->', 's', '<!-- user -->', '', '{{ research | tojson }}']);
    expect(errorOf(() => renderPrompt('f', { research: {} }, { dir })).message).toBe('config/prompts/f.md:5: filter not found: tojson');
  });

  it('an error inside an included template names the included file', () => {
    template('outer.md', ['<!-- system -->', 's', '<!-- user -->', '{% include "partial.md" %}']);
    template('partial.md', ['first line', 'value {{ missing }}']);
    expect(errorOf(() => renderPrompt('outer', {}, { dir })).message).toBe(
      'config/prompts/partial.md:2: {{ missing }} is undefined or null (a variable the caller did not pass?)',
    );
  });

  it('a template without the section markers, or with text before the system marker', () => {
    template('plain.md', ['Just one prompt.']);
    expect(errorOf(() => renderPrompt('plain', {}, { dir })).message).toBe(
      'config/prompts/plain.md: expected a line "<!-- system -->" and, after it, a line "<!-- user -->"',
    );
    template('early.md', ['Preamble', '<!-- system -->', 's', '<!-- user -->', 'u']);
    expect(errorOf(() => renderPrompt('early', {}, { dir })).message).toBe(
      'config/prompts/early.md: only blank lines and {# comments #} may come before "<!-- system -->"',
    );
  });

  it('a missing template', () => {
    expect(errorOf(() => renderPrompt('nope', {}, { dir })).message).toBe('config/prompts/nope.md: prompt template not found');
  });

  it('paths outside the working directory stay absolute', () => {
    expect(displayPath('/somewhere/else/pm_pitch.md')).toBe('/somewhere/else/pm_pitch.md');
    expect(displayPath(join(root, 'config', 'prompts', 'x.md'))).toBe('config/prompts/x.md');
  });
});

describe('parseNunjucksMessage', () => {
  it('takes the innermost frame of a nested nunjucks message', () => {
    const message =
      '(/p/a.md)\n  Template render error: (/p/a.md)\n  Template render error: (/p/a.md) [Line 7, Column 9]\n  attempted to output null or undefined value';
    expect(parseNunjucksMessage(message)).toEqual({
      path: '/p/a.md',
      line: 7,
      column: 9,
      detail: 'attempted to output null or undefined value',
    });
    expect(parseNunjucksMessage('(unknown path)\n  Error: filter not found: tojson')).toEqual({
      path: null,
      line: null,
      column: null,
      detail: 'filter not found: tojson',
    });
  });
});

describe('splitSections', () => {
  it('rejects an empty section', () => {
    expect(() => splitSections('<!-- system -->\n\n<!-- user -->\nu', 'x.md')).toThrow(
      'x.md: the system and user sections must both have text',
    );
  });
});
