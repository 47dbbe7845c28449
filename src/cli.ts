#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { config as loadDotenv } from 'dotenv';
import { runCli } from './cli/program.js';

/**
 * Commands that live for seconds compile PGlite's WebAssembly with V8's baseline compiler only: the
 * optimizing tier costs more time and ≈ 100 MB than a short command earns back (measured: a cold
 * `npm start` 5.1 → 4.0 s and 369 → 277 MB peak). Long-lived processes keep the optimizing tier,
 * where thousands of queries repay it. Set before anything loads PGlite.
 */
const LONG_LIVED = new Set(['schedule', 'worker', 'backtest', 'dashboard']);
if (!LONG_LIVED.has(process.argv[2] ?? '')) setFlagsFromString('--liftoff-only');

loadDotenv({ quiet: true });
const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  stderrIsTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
