import { join } from 'node:path';
import { DEFAULT_CONFIG_DIR } from './paths.js';
import { readYamlFile } from './yaml-file.js';

const WEEKDAYS = new Set(['monday', 'tuesday', 'wednesday', 'thursday', 'friday']);

/**
 * The weekday of the weekly run from schedule.yaml, read without validating the whole configuration
 * (the CLI refuses a wrong decision date with it before loading anything heavy). Undefined when the
 * file or the key is not what it should be: the full validation then reports it properly.
 */
export function scheduledWeekday(configDir: string | undefined): string | undefined {
  try {
    const data = readYamlFile(join(configDir ?? DEFAULT_CONFIG_DIR, 'schedule.yaml')) as { weekly?: { day?: unknown } } | null;
    const day = data?.weekly?.day;
    return typeof day === 'string' && WEEKDAYS.has(day) ? day : undefined;
  } catch {
    return undefined;
  }
}
