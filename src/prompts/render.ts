/**
 * Prompt rendering. Templates are Nunjucks (Jinja2 syntax) files under config/prompts/, editable
 * without touching code.
 *
 * Convention: a template renders to two sections, each opened by a line that is exactly a marker:
 *
 *     <!-- system -->
 *     stable instructions: role, rules, output fields (no dates, no numbers of the week)
 *     <!-- user -->
 *     the week's data: week id, as-of, snapshot table, research, pitches…, then the JSON Schema
 *
 * The system section becomes the system message and the user section the user message. Keeping
 * everything that changes weekly in the user message lets providers cache the system prefix. Only
 * blank lines and `{# comments #}` may precede the system marker. The markers are HTML comments so
 * the file still reads as Markdown, and the split happens at the first user marker: data can only
 * follow it, so nothing in the data can move the boundary.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { ChatMessage } from '../ports/llm.js';
import { PromptTemplateError, displayPath, toPromptTemplateError } from './template-error.js';

export { PromptTemplateError } from './template-error.js';

export const SYSTEM_MARKER = '<!-- system -->';
export const USER_MARKER = '<!-- user -->';
export const PROMPTS_DIR_ENV = 'LLM_TRADING_PROMPTS_DIR';

/** The templates shipped with the package; the same relative path works from src/ and from dist/. */
const PACKAGED_PROMPTS_DIR = new URL('../../config/prompts', import.meta.url);

export interface RenderOptions {
  /** Directory of the templates; default: $LLM_TRADING_PROMPTS_DIR, else the packaged config/prompts. */
  dir?: string;
}

export function promptsDir(dir?: string): string {
  const fromEnv = process.env[PROMPTS_DIR_ENV];
  return resolve(dir ?? (fromEnv && fromEnv.trim() !== '' ? fromEnv : fileURLToPath(PACKAGED_PROMPTS_DIR)));
}

const environments = new Map<string, { env: nunjucks.Environment; stamps: Map<string, number> }>();

/**
 * One nunjucks Environment per prompts directory, with compiled templates cached. A template file
 * whose modification time changed gets a fresh Environment, so a long-running scheduler picks up
 * edited prompts without a restart while a run renders each template without recompiling it.
 */
function environment(dir: string, file: string): nunjucks.Environment {
  const stamp = statSync(file).mtimeMs;
  let entry = environments.get(dir);
  if (entry && entry.stamps.has(file) && entry.stamps.get(file) !== stamp) entry = undefined;
  if (!entry) {
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: false }), {
      autoescape: false, // prompts are plain text, not HTML
      throwOnUndefined: true, // a missing variable is a bug, never an empty string in a prompt
      trimBlocks: true,
      lstripBlocks: true,
    });
    entry = { env, stamps: new Map() };
    environments.set(dir, entry);
  }
  entry.stamps.set(file, stamp);
  return entry.env;
}

/** 'pm_pitch' → 'pm_pitch.md'; a name with an extension is used as is. */
export function templateFileName(name: string): string {
  return extname(name) === '' ? `${name}.md` : name;
}

/** Split rendered text at the marker lines into [system, user]. */
export function splitSections(text: string, file: string): ChatMessage[] {
  const lines = text.split('\n');
  const systemAt = lines.findIndex((l) => l.trim() === SYSTEM_MARKER);
  const userAt = lines.findIndex((l, i) => i > systemAt && l.trim() === USER_MARKER);
  if (systemAt < 0 || userAt < 0) {
    throw new PromptTemplateError(file, null, `expected a line "${SYSTEM_MARKER}" and, after it, a line "${USER_MARKER}"`);
  }
  if (lines.slice(0, systemAt).some((l) => l.trim() !== '')) {
    throw new PromptTemplateError(file, null, `only blank lines and {# comments #} may come before "${SYSTEM_MARKER}"`);
  }
  const system = lines
    .slice(systemAt + 1, userAt)
    .join('\n')
    .trim();
  const user = lines
    .slice(userAt + 1)
    .join('\n')
    .trim();
  if (system === '' || user === '') throw new PromptTemplateError(file, null, 'the system and user sections must both have text');
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/**
 * Render config/prompts/<name>.md into [system message, user message]. A syntax error, an unknown
 * filter or an undefined variable throws PromptTemplateError naming the file and line.
 */
export function renderPrompt(name: string, variables: object, options: RenderOptions = {}): ChatMessage[] {
  const dir = promptsDir(options.dir);
  const fileName = templateFileName(name);
  const file = join(dir, fileName);
  if (!existsSync(file)) throw new PromptTemplateError(displayPath(file), null, 'prompt template not found');
  let text: string;
  try {
    text = environment(dir, file).render(fileName, variables);
  } catch (error) {
    throw toPromptTemplateError(error, file);
  }
  return splitSections(text, displayPath(file));
}

/**
 * Compiles config/prompts/<name>.md without rendering it, so a syntax error or a missing file is
 * reported when a run starts — before deep research has been paid for — not at the stage that needs it.
 */
export function compilePrompt(name: string, options: RenderOptions = {}): void {
  const dir = promptsDir(options.dir);
  const fileName = templateFileName(name);
  const file = join(dir, fileName);
  if (!existsSync(file)) throw new PromptTemplateError(displayPath(file), null, 'prompt template not found');
  try {
    environment(dir, file).getTemplate(fileName, true);
  } catch (error) {
    throw toPromptTemplateError(error, file);
  }
}
