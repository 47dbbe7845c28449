import { describe, expect, it } from 'vitest';
import { CommandLineError, parseCommandLine, showCommandLine } from './command.js';

describe('ALPACA_MCP_COMMAND → argv (no shell)', () => {
  it('splits words, keeps quoted spaces and escapes, expands nothing', () => {
    expect(parseCommandLine('uvx alpaca-mcp-server')).toEqual(['uvx', 'alpaca-mcp-server']);
    expect(parseCommandLine('  uvx   alpaca-mcp-server==2.1.1\t')).toEqual(['uvx', 'alpaca-mcp-server==2.1.1']);
    expect(parseCommandLine(`"/opt/my tools/node" --import tsx 'a b.ts' c\\ d`)).toEqual([
      '/opt/my tools/node',
      '--import',
      'tsx',
      'a b.ts',
      'c d',
    ]);
    expect(parseCommandLine(`echo $HOME ~ '|' ; "x\\"y" "a\\b" ''`)).toEqual(['echo', '$HOME', '~', '|', ';', 'x"y', 'a\\b', '']);
  });

  it('refuses what it cannot split', () => {
    expect(() => parseCommandLine('')).toThrow(CommandLineError);
    expect(() => parseCommandLine('   ')).toThrow(/empty/);
    expect(() => parseCommandLine('uvx "alpaca')).toThrow(/unclosed double quote/);
    expect(() => parseCommandLine("uvx 'alpaca")).toThrow(/unclosed single quote/);
    expect(() => parseCommandLine('uvx \\')).toThrow(/backslash/);
  });

  it('shows an argv as a line that parses back to it', () => {
    const argv = ['/opt/my tools/node', "it's", 'plain-word', ''];
    expect(parseCommandLine(showCommandLine(argv))).toEqual(argv);
  });
});
