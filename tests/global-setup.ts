import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { STAND_IN_COMPILED, STAND_IN_PATH } from './helpers/alpaca-mcp-stand-in.js';

/**
 * The process tests run the built command line (dist/). Build it when src/ is newer, so `npx vitest`
 * after an edit never tests stale code; `npm ci` and CI build it anyway.
 */
export default function setup(): () => void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0,
      ),
    );
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'cli.js')).mtimeMs;
  } catch {
    built = 0;
  }
  if (newest(join(root, 'src')) > built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  compileStandIns();
  return homeLeftUntouched(root);
}

/**
 * Every test gives the command its own LLM_TRADING_HOME: a test that forgets writes into the default
 * home, ./.llm-trading of the working folder (a user's, after `npm start`). The teardown fails the run
 * when the suite created it or wrote into it.
 */
function homeLeftUntouched(root: string): () => void {
  const home = join(root, '.llm-trading');
  const stamp = (): string =>
    existsSync(home)
      ? readdirSync(home, { recursive: true })
          .map((f) => `${String(f)} ${statSync(join(home, String(f))).size}`)
          .sort()
          .join('\n')
      : 'absent';
  const before = stamp();
  return () => {
    if (stamp() === before) return;
    // Vitest reports an error thrown here but still exits 0: set the code too.
    process.exitCode = 1;
    throw new Error(`the tests wrote into the default home ${home}: a test is missing its LLM_TRADING_HOME`);
  };
}

/**
 * The Alpaca MCP stand-in, a child process, as JavaScript (see STAND_IN_COMPILED): compiled once
 * here instead of by tsx at every start.
 */
function compileStandIns(): void {
  if (existsSync(STAND_IN_COMPILED) && statSync(STAND_IN_COMPILED).mtimeMs >= statSync(STAND_IN_PATH).mtimeMs) return;
  const output = ts.transpileModule(readFileSync(STAND_IN_PATH, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: STAND_IN_PATH,
  }).outputText;
  mkdirSync(dirname(STAND_IN_COMPILED), { recursive: true });
  // Whole or not at all: another run of the suite may be starting servers from it.
  writeFileSync(`${STAND_IN_COMPILED}.${process.pid}.tmp`, output);
  renameSync(`${STAND_IN_COMPILED}.${process.pid}.tmp`, STAND_IN_COMPILED);
}
