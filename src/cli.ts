#!/usr/bin/env node
import { config as loadDotenv } from 'dotenv';
import { runCli } from './cli/program.js';

loadDotenv({ quiet: true });
const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
process.exitCode = code;
