import { z } from 'zod';
import { PUBLISHED_SCHEMAS } from './index.js';

/** JSON Schema 2020-12 for one published schema, as checked in under config/schemas/. */
export function toJsonSchema(name: string): Record<string, unknown> {
  const schema = PUBLISHED_SCHEMAS[name];
  if (!schema) throw new Error(`unknown schema ${name}`);
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return { $id: `https://llm-trading.dev/schemas/${name}.schema.json`, title: name, ...json };
}

export function renderJsonSchemaFile(name: string): string {
  return `${JSON.stringify(toJsonSchema(name), null, 2)}\n`;
}
