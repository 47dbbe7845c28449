import { z } from 'zod';
import { PUBLISHED_SCHEMAS } from './index.js';

const generated = new Map<string, Readonly<Record<string, unknown>>>();

/**
 * JSON Schema 2020-12 for one published schema, as checked in under config/schemas/. Generated once
 * per process (every model call sends one) and frozen, so no caller can alter the shared copy.
 */
export function toJsonSchema(name: string): Record<string, unknown> {
  let json = generated.get(name);
  if (!json) {
    const schema = PUBLISHED_SCHEMAS[name];
    if (!schema) throw new Error(`unknown schema ${name}`);
    const body = z.toJSONSchema(schema, { target: 'draft-2020-12' }) as Record<string, unknown>;
    json = deepFreeze({ $id: `https://llm-trading.dev/schemas/${name}.schema.json`, title: name, ...body });
    generated.set(name, json);
  }
  return json as Record<string, unknown>;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function renderJsonSchemaFile(name: string): string {
  return `${JSON.stringify(toJsonSchema(name), null, 2)}\n`;
}
