/**
 * ALPACA_MCP_COMMAND → the argv of the server process. The command is started without a shell (the
 * MCP SDK spawns with shell: false), so nothing in it is expanded, piped or globbed; this parser only
 * splits words the way a POSIX shell would for the plain cases people write: spaces separate words,
 * 'single' and "double" quotes keep spaces (for paths that have them), and a backslash escapes the
 * next character outside single quotes. Anything else a shell would do ($VAR, ~, |, ;) is kept as text.
 */

export const DEFAULT_ALPACA_MCP_COMMAND = 'uvx alpaca-mcp-server';

export class CommandLineError extends Error {}

export function parseCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new CommandLineError('the command ends with a lone backslash');
      // Inside double quotes a backslash only escapes what a shell lets it escape there.
      if (quote === '"' && !['"', '\\', '$', '`'].includes(next)) word += ch;
      word += next;
      inWord = true;
      i++;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    word += ch;
    inWord = true;
  }
  if (quote !== null) throw new CommandLineError(`the command has an unclosed ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(word);
  if (words.length === 0 || words[0] === '') throw new CommandLineError('the command is empty');
  return words;
}

/** The argv as one line a user can copy (quoted where needed); for messages. */
export function showCommandLine(argv: readonly string[]): string {
  return argv.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
