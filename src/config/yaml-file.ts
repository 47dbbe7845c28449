import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../errors.js';

/** A configuration file that is missing, not YAML, or not what its schema expects. */
export class ConfigError extends UserError {}

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** Reads and parses a YAML file; errors name the file. */
export function readYamlFile(path: string): unknown {
  const shown = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${shown}: cannot read the file`);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ConfigError(`${shown}: not valid YAML: ${first}`);
  }
}

/** Validates parsed config; the one error names the file, the key and what was expected. */
export function validateConfig<T>(schema: z.ZodType<T>, data: unknown, shown: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  throw new ConfigError(`${shown}: ${key}: ${issue?.message ?? 'invalid'}`);
}
