import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

/**
 * Prepared PGlite data directories ("templates"), made at build time (`npm run build`, which `npm ci`
 * runs) and loaded with PGlite's own `loadDataDir` when a new database is created, instead of running
 * initdb (≈ 8 CPU-s and ≈ 750 MB peak on the 2-core machine) and then every migration.
 *
 * Two archives, both taken from one initdb:
 * - `migrated`: every migration of the migrations folder applied; what a new store starts from;
 * - `blank`: right after initdb; for the few tests that need a database with no schema.
 *
 * They are only a shortcut. A template is used only when its manifest says it was made by this very
 * PGlite version (the data directory's format is tied to it), its archive's checksum matches, and (for
 * `migrated`) the migrations it holds are the first ones of the current migrations folder; the caller
 * still runs the migrator, which applies the ones added since. Anything else — no build, an edited
 * migration, a PGlite upgrade — means initdb, as without a template.
 */

/** dist/pglite-template, from src/storage (tests, tsx) and from dist/storage (the built CLI) alike. */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../dist/pglite-template', import.meta.url));

const MANIFEST = 'manifest.json';
// 2: the templates hold the one database PGlite uses, without template0 and template1.
export const TEMPLATE_FORMAT = 2;

/**
 * initdb settings of every new database, from a template or not (pglite-open.ts passes them to
 * PGlite's own initdb). 1MB WAL segments instead of 16MB: a new data directory is 30 MB instead of
 * 41 MB (its one WAL segment is mostly zeros), and a template load copies it several times, into
 * memory and onto disk; measured ≈ 35 MB lower peak memory for the load.
 */
export const PGLITE_INITDB_PARAMS: readonly string[] = ['--wal-segsize=1'];

export type TemplateKind = 'blank' | 'migrated';

/** A migration as drizzle records it in drizzle.__drizzle_migrations (sha256 of the file, journal `when`). */
export interface MigrationStamp {
  hash: string;
  created_at: number;
}

export interface TemplateArchive {
  file: string;
  bytes: number;
  sha256: string;
}

/** What a template directory holds; written last, so an interrupted build leaves no manifest. */
export interface TemplateManifest {
  format: typeof TEMPLATE_FORMAT;
  pglite: string;
  initdb: string[];
  archives: Record<TemplateKind, TemplateArchive>;
  /** The migrations in the `migrated` archive, read back from its __drizzle_migrations table. */
  migrations: MigrationStamp[];
}

export type TemplateLookup = { archive: Blob } | { reason: string };

/** What makes a data directory: the PGlite version (its format is tied to it) and the initdb settings. */
export interface Engine {
  pglite: string;
  initdb: readonly string[];
}

export function currentEngine(): Engine {
  return { pglite: pgliteVersion(), initdb: PGLITE_INITDB_PARAMS };
}

/** The version of the installed PGlite (its package.json is not exported, so it is found beside its entry). */
export function pgliteVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === '@electric-sql/pglite' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the package.json of @electric-sql/pglite');
    dir = parent;
  }
}

/** The migrations of a folder, identified exactly as drizzle's migrator records them. */
export function migrationStamps(migrationsFolder: string): MigrationStamp[] {
  return readMigrationFiles({ migrationsFolder }).map((m) => ({ hash: m.hash, created_at: m.folderMillis }));
}

/**
 * Whether a template may stand in for initdb (+ migrations): null if it may, else why not. Pure.
 * `current` is undefined for the blank template, which holds no migration.
 */
export function templateMismatch(manifest: TemplateManifest, engine: Engine, current: MigrationStamp[] | undefined): string | null {
  if (manifest.pglite !== engine.pglite) return `made by PGlite ${manifest.pglite}, this is ${engine.pglite}`;
  if (manifest.initdb.join(' ') !== engine.initdb.join(' '))
    return `made with initdb ${manifest.initdb.join(' ')}, now ${engine.initdb.join(' ')}`;
  if (current === undefined) return null;
  if (manifest.migrations.length > current.length) return 'it holds more migrations than the migrations folder';
  for (const [i, m] of manifest.migrations.entries()) {
    const c = current[i]!;
    if (m.hash !== c.hash || m.created_at !== c.created_at) return `migration ${i} differs from the migrations folder`;
  }
  return null;
}

/**
 * The archive a new database may start from, by the manifest (its size and checksum are for the reader
 * to check), or why there is none. Never throws.
 */
export function templateArchive(
  kind: TemplateKind,
  options: { dir?: string; migrationsFolder?: string } = {},
): { path: string; archive: TemplateArchive } | { reason: string } {
  const dir = options.dir ?? TEMPLATE_DIR;
  try {
    const manifest = readManifest(dir);
    if (!manifest) return { reason: `no template in ${dir} (npm run build makes it)` };
    const current = kind === 'migrated' ? migrationStamps(requireFolder(options.migrationsFolder)) : undefined;
    const mismatch = templateMismatch(manifest, currentEngine(), current);
    if (mismatch) return { reason: `template out of date: ${mismatch}` };
    const archive = manifest.archives[kind];
    return { path: join(dir, archive.file), archive };
  } catch (error) {
    return { reason: `template unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The template archive to load for a new database, or why there is none. Never throws. */
export function findTemplate(kind: TemplateKind, options: { dir?: string; migrationsFolder?: string } = {}): TemplateLookup {
  const found = readTemplate(kind, options);
  if ('reason' in found) return found;
  // The MIME type tells PGlite's loadTar to gunzip it (which peaked lower than unzipping it here).
  return { archive: new Blob([found.gzip], { type: 'application/gzip' }) };
}

/**
 * The template archive's bytes (gzipped tar), checked against the manifest's size and checksum, with
 * the checksum; or why there is none. Never throws.
 */
export function readTemplate(
  kind: TemplateKind,
  options: { dir?: string; migrationsFolder?: string } = {},
): { gzip: Buffer; sha256: string } | { reason: string } {
  const found = templateArchive(kind, options);
  if ('reason' in found) return found;
  try {
    const entry = found.archive;
    const bytes = readFileSync(found.path);
    if (bytes.length !== entry.bytes || sha256(bytes) !== entry.sha256) return { reason: `template archive ${entry.file} is damaged` };
    return { gzip: bytes, sha256: entry.sha256 };
  } catch (error) {
    return { reason: `template unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Whether `dir` already holds templates for exactly this PGlite and these migrations (so a build can skip). */
export function templateIsCurrent(dir: string, migrationsFolder: string): boolean {
  try {
    const manifest = readManifest(dir);
    if (!manifest || manifest.migrations.length !== migrationStamps(migrationsFolder).length) return false;
    return (['blank', 'migrated'] as const).every((kind) => !('reason' in findTemplate(kind, { dir, migrationsFolder })));
  } catch {
    return false;
  }
}

/**
 * Makes both templates in `dir`: one initdb, the template databases dropped, a checkpoint (so a
 * loaded copy starts without replaying WAL), the blank dump, the migrations, another checkpoint,
 * the migrated dump. The manifest is removed first and written last, so readers never pair it with
 * a half-written archive.
 *
 * Why drop template0 and template1: PGlite works in `postgres` and this project never creates a
 * database, but initdb's two templates were 600 of the data folder's 1,090 files and 14 of its 31
 * MB. Every new embedded database unpacks the folder, a file at a time on disk (on the 2-core
 * machine, creating those files was 0.45 s of `npm start`'s 2.7 s), and tests unpack it dozens of
 * times in memory.
 */
export async function buildTemplate(dir: string, migrationsFolder: string): Promise<TemplateManifest> {
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, MANIFEST), { force: true });
  const pg = await PGlite.create({ initDbStartParams: [...PGLITE_INITDB_PARAMS] });
  try {
    for (const database of ['template0', 'template1']) {
      await pg.exec(`alter database ${database} is_template false`);
      await pg.exec(`drop database ${database}`);
    }
    await pg.exec('CHECKPOINT');
    const blank = await writeArchive(dir, 'blank.tar.gz', await pg.dumpDataDir('gzip'));
    await migrate(drizzle(pg), { migrationsFolder });
    await pg.exec('CHECKPOINT');
    const migrated = await writeArchive(dir, 'migrated.tar.gz', await pg.dumpDataDir('gzip'));
    const { rows } = await pg.query<{ hash: string; created_at: string | number }>(
      'select hash, created_at from drizzle.__drizzle_migrations order by id',
    );
    const manifest: TemplateManifest = {
      format: TEMPLATE_FORMAT,
      pglite: pgliteVersion(),
      initdb: [...PGLITE_INITDB_PARAMS],
      archives: { blank, migrated },
      migrations: rows.map((r) => ({ hash: r.hash, created_at: Number(r.created_at) })),
    };
    writeAtomically(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await pg.close();
  }
}

async function writeArchive(dir: string, file: string, dump: Blob): Promise<TemplateArchive> {
  const bytes = Buffer.from(await dump.arrayBuffer());
  writeAtomically(join(dir, file), bytes);
  return { file, bytes: bytes.length, sha256: sha256(bytes) };
}

function writeAtomically(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function readManifest(dir: string): TemplateManifest | null {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return null;
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isManifest(parsed)) throw new Error(`${path} is not a template manifest of format ${TEMPLATE_FORMAT}`);
  return parsed;
}

function isManifest(value: unknown): value is TemplateManifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  const archives = m.archives as Record<string, unknown> | undefined;
  const isArchive = (a: unknown): boolean => {
    const r = a as Record<string, unknown> | null | undefined;
    return typeof r?.file === 'string' && typeof r.bytes === 'number' && typeof r.sha256 === 'string';
  };
  return (
    m.format === TEMPLATE_FORMAT &&
    typeof m.pglite === 'string' &&
    Array.isArray(m.initdb) &&
    m.initdb.every((a: unknown) => typeof a === 'string') &&
    typeof archives === 'object' &&
    archives !== null &&
    isArchive(archives.blank) &&
    isArchive(archives.migrated) &&
    Array.isArray(m.migrations) &&
    m.migrations.every((s: unknown) => {
      const r = s as Record<string, unknown> | null;
      return typeof r?.hash === 'string' && typeof r.created_at === 'number';
    })
  );
}

function requireFolder(folder: string | undefined): string {
  if (!folder) throw new Error('the migrated template needs the migrations folder to check against');
  return folder;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
