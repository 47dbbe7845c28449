/**
 * Turns nunjucks errors into one line a user can act on: `config/prompts/pm_pitch.md:12: unexpected
 * token: %}`. Nunjucks reports the file and line only inside a nested, pre-formatted message (and for
 * some errors, such as an unknown filter, no line at all), so we parse that message and fill the gaps
 * from the template source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { displayPath } from '../config/yaml-file.js';
import { UserError } from '../errors.js';

export class PromptTemplateError extends UserError {
  constructor(
    /** The template file, relative to the working directory when inside it. */
    readonly file: string,
    /** 1-based line in the template, when known. */
    readonly line: number | null,
    readonly detail: string,
  ) {
    super(line === null ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
    this.name = 'PromptTemplateError';
  }
}

/** A path as a user would type it: relative to the working directory when inside it. */
export { displayPath };

interface ParsedError {
  path: string | null;
  line: number | null;
  column: number | null;
  detail: string;
}

/**
 * Nunjucks nests one "(path) [Line L, Column C]\n  " header per template frame, e.g.
 * "(a.md)\n  Template render error: (a.md) [Line 7, Column 9]\n  attempted to output null or undefined value".
 * The innermost header names the file and line where the error happened; the text after it is the cause.
 */
export function parseNunjucksMessage(message: string): ParsedError {
  const headers = [...message.matchAll(/\(([^\n]*?)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?\n\s*/g)];
  const last = headers.at(-1);
  if (!last) return { path: null, line: null, column: null, detail: message.trim() };
  const withLine = [...headers].reverse().find((h) => h[2] !== undefined);
  const path = last[1] === undefined || last[1] === 'unknown path' ? null : last[1];
  const detail = message
    .slice((last.index ?? 0) + last[0].length)
    .trim()
    .replace(/^(Template render error: |Error: )+/, '');
  return {
    path,
    line: withLine?.[2] === undefined ? null : Number(withLine[2]),
    column: withLine?.[3] === undefined ? null : Number(withLine[3]),
    detail,
  };
}

function sourceLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
}

/** The `{{ … }}` expression that starts at a 1-based column, or the first one on the line. */
function outputExpressionAt(lineText: string, column: number | null): string | null {
  const from = column === null ? lineText : lineText.slice(Math.max(0, column - 1));
  return (from.match(/\{\{.*?\}\}/) ?? lineText.match(/\{\{.*?\}\}/))?.[0] ?? null;
}

/** Nunjucks gives no line for an unknown filter: find its first use in the source. */
function lineOfFilter(lines: readonly string[], filter: string): number | null {
  const use = new RegExp(`\\|\\s*${filter.replace(/[^\w]/g, '')}\\b`);
  const index = lines.findIndex((l) => use.test(l));
  return index < 0 ? null : index + 1;
}

const BLOCK_TAGS = new Set(['for', 'if', 'block', 'macro', 'call', 'filter', 'raw', 'verbatim', 'asyncEach', 'asyncAll']);

/**
 * Nunjucks reports a block or `{{` left open only as "end of file", without a line: point at the tag
 * that was never closed, which is where the user has to look.
 */
function unclosedTag(lines: readonly string[]): { line: number; tag: string } | null {
  const open: { line: number; tag: string }[] = [];
  let lastUnclosedOutput: { line: number; tag: string } | null = null;
  lines.forEach((text, i) => {
    for (const m of text.matchAll(/\{%-?\s*(\w+)/g)) {
      const tag = m[1] ?? '';
      if (BLOCK_TAGS.has(tag)) open.push({ line: i + 1, tag });
      else if (tag.startsWith('end') && open.at(-1)?.tag === tag.slice(3)) open.pop();
    }
    const lastOpen = text.lastIndexOf('{{');
    if (lastOpen >= 0 && text.indexOf('}}', lastOpen) < 0) lastUnclosedOutput = { line: i + 1, tag: '{{' };
  });
  return open.at(-1) ?? lastUnclosedOutput;
}

/** Wrap any error thrown while rendering `file` into a PromptTemplateError naming the file and line. */
export function toPromptTemplateError(error: unknown, file: string): PromptTemplateError {
  if (error instanceof PromptTemplateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const parsed = parseNunjucksMessage(message);
  // Includes and extends report the inner template's path: point at the file that really failed.
  const failedFile = parsed.path ?? file;
  const lines = sourceLines(failedFile);
  let { line, detail } = parsed;

  if (detail.startsWith('attempted to output null or undefined value') && line !== null) {
    const expression = outputExpressionAt(lines[line - 1] ?? '', parsed.column);
    if (expression) detail = `${expression} is undefined or null (a variable the caller did not pass?)`;
  }
  const unknownFilter = /^filter not found: (\S+)/.exec(detail);
  if (unknownFilter?.[1] && line === null) line = lineOfFilter(lines, unknownFilter[1]);

  if (line === null && /end of file|expected variable end/.test(detail)) {
    const unclosed = unclosedTag(lines);
    if (unclosed) {
      line = unclosed.line;
      detail = `${detail} (${unclosed.tag === '{{' ? '"{{"' : `{% ${unclosed.tag} %}`} opened here is never closed)`;
    }
  }

  return new PromptTemplateError(displayPath(failedFile), line, detail);
}
