// Regenerates config/schemas/*.schema.json from the zod schemas (the source of truth).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLISHED_SCHEMAS } from '../src/schemas/index.js';
import { renderJsonSchemaFile } from '../src/schemas/json-schema.js';

const dir = join(import.meta.dirname, '..', 'config', 'schemas');
mkdirSync(dir, { recursive: true });
for (const name of Object.keys(PUBLISHED_SCHEMAS)) {
  writeFileSync(join(dir, `${name}.schema.json`), renderJsonSchemaFile(name));
  console.log(`wrote config/schemas/${name}.schema.json`);
}
