/**
 * Part of `npm run build` (and so of `npm ci`): makes dist/pglite-template, the prepared PGlite data
 * directories that new embedded databases start from (src/storage/pglite-template.ts).
 *
 * Skips the work when the templates there already match this PGlite and the migrations folder.
 * A failure only warns and exits 0: without a template every database is created by initdb, as before.
 */
import { fileURLToPath } from 'node:url';
import { buildTemplate, TEMPLATE_DIR, templateIsCurrent } from '../src/storage/pglite-template.js';

const MIGRATIONS = fileURLToPath(new URL('../src/storage/migrations', import.meta.url));

try {
  if (templateIsCurrent(TEMPLATE_DIR, MIGRATIONS)) {
    console.log(`pglite template: up to date in ${TEMPLATE_DIR}`);
  } else {
    const started = performance.now();
    const manifest = await buildTemplate(TEMPLATE_DIR, MIGRATIONS);
    const mb = (manifest.archives.blank.bytes + manifest.archives.migrated.bytes) / 1e6;
    console.log(
      `pglite template: PGlite ${manifest.pglite}, ${manifest.migrations.length} migrations, ${mb.toFixed(1)} MB in ${TEMPLATE_DIR} ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
} catch (error) {
  console.warn(`pglite template: not built (${error instanceof Error ? error.message : String(error)}); new databases will run initdb`);
}
