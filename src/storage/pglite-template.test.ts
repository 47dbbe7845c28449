import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { addMigration } from '../../tests/helpers/migrations-folder.js';
import { isNewDataDir } from './pglite-open.js';
import {
  findTemplate,
  migrationStamps,
  currentEngine,
  templateIsCurrent,
  templateMismatch,
  TEMPLATE_FORMAT,
  type MigrationStamp,
  type TemplateManifest,
} from './pglite-template.js';

// What decides whether a template is used, without starting PGlite (tests/pglite-template.test.ts
// loads real templates).

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'lt-template-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const stamps: MigrationStamp[] = [
  { hash: 'a'.repeat(64), created_at: 1 },
  { hash: 'b'.repeat(64), created_at: 2 },
  { hash: 'c'.repeat(64), created_at: 3 },
];

const engine = { pglite: '9.9.9', initdb: ['--wal-segsize=1'] };

function manifest(overrides: Partial<TemplateManifest> = {}): TemplateManifest {
  const archive = { file: 'x.tar.gz', bytes: 0, sha256: '' };
  return {
    format: TEMPLATE_FORMAT,
    pglite: '9.9.9',
    initdb: ['--wal-segsize=1'],
    archives: { blank: archive, migrated: archive },
    migrations: stamps,
    ...overrides,
  };
}

describe('templateMismatch', () => {
  it('accepts a template made by this PGlite with exactly the current migrations', () => {
    expect(templateMismatch(manifest(), engine, stamps)).toBeNull();
  });

  it('accepts a template older than the migrations folder: the migrator applies the rest', () => {
    expect(templateMismatch(manifest({ migrations: stamps.slice(0, 2) }), engine, stamps)).toBeNull();
    expect(templateMismatch(manifest({ migrations: [] }), engine, stamps)).toBeNull();
  });

  it('refuses a template made by another PGlite version (its data directory format may differ) or other initdb settings', () => {
    expect(templateMismatch(manifest(), { ...engine, pglite: '9.9.10' }, stamps)).toMatch(/PGlite 9\.9\.9, this is 9\.9\.10/);
    expect(templateMismatch(manifest(), { ...engine, initdb: [] }, stamps)).toMatch(/made with initdb --wal-segsize=1/);
  });

  it('refuses a template whose migrations are not the first ones of the folder', () => {
    const edited = [stamps[0]!, { ...stamps[1]!, hash: 'd'.repeat(64) }, stamps[2]!];
    expect(templateMismatch(manifest(), engine, edited)).toMatch(/migration 1 differs/);
    const moved = [stamps[0]!, { ...stamps[1]!, created_at: 5 }, stamps[2]!];
    expect(templateMismatch(manifest(), engine, moved)).toMatch(/migration 1 differs/);
    expect(templateMismatch(manifest(), engine, stamps.slice(0, 2))).toMatch(/more migrations/);
  });

  it('checks only the engine for the blank template', () => {
    expect(templateMismatch(manifest(), engine, undefined)).toBeNull();
    expect(templateMismatch(manifest(), { ...engine, pglite: '1.0.0' }, undefined)).not.toBeNull();
  });
});

describe('findTemplate', () => {
  /** A template folder with made-up archives: findTemplate checks them, it does not open them. */
  function fakeTemplate(name: string, migrations: MigrationStamp[] = migrationStamps(MIGRATIONS)): string {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    const archive = (file: string, text: string) => {
      writeFileSync(join(dir, file), gzipSync(text));
      const bytes = readFileSync(join(dir, file));
      return { file, bytes: bytes.length, sha256: createHashHex(bytes) };
    };
    const m: TemplateManifest = {
      format: TEMPLATE_FORMAT,
      ...currentEngine(),
      initdb: [...currentEngine().initdb],
      archives: { blank: archive('blank.tar.gz', 'blank bytes'), migrated: archive('migrated.tar.gz', 'migrated bytes') },
      migrations,
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    return dir;
  }

  it('returns the archive, typed as gzip so PGlite unzips it', async () => {
    const dir = fakeTemplate('ok');
    const found = findTemplate('migrated', { dir, migrationsFolder: MIGRATIONS });
    if (!('archive' in found)) throw new Error(found.reason);
    expect(found.archive.type).toBe('application/gzip');
    expect(gunzipSync(Buffer.from(await found.archive.arrayBuffer())).toString()).toBe('migrated bytes');
    const blank = findTemplate('blank', { dir });
    if (!('archive' in blank)) throw new Error(blank.reason);
    expect(gunzipSync(Buffer.from(await blank.archive.arrayBuffer())).toString()).toBe('blank bytes');
    expect(templateIsCurrent(dir, MIGRATIONS)).toBe(true);
  });

  it('says why when there is no template (a clone that was not built)', () => {
    const found = findTemplate('migrated', { dir: join(scratch, 'absent'), migrationsFolder: MIGRATIONS });
    expect(found).toEqual({ reason: expect.stringMatching(/^no template in .*npm run build/) });
    expect(templateIsCurrent(join(scratch, 'absent'), MIGRATIONS)).toBe(false);
  });

  it('refuses a damaged archive', () => {
    const dir = fakeTemplate('damaged');
    writeFileSync(join(dir, 'migrated.tar.gz'), gzipSync('migrated bytez'));
    expect(findTemplate('migrated', { dir, migrationsFolder: MIGRATIONS })).toEqual({ reason: expect.stringMatching(/damaged/) });
    expect(templateIsCurrent(dir, MIGRATIONS)).toBe(false);
  });

  it('refuses an unreadable manifest without throwing', () => {
    const dir = join(scratch, 'garbled');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), '{"format": 1');
    expect(findTemplate('blank', { dir })).toEqual({ reason: expect.stringMatching(/^template unreadable/) });
    writeFileSync(join(dir, 'manifest.json'), '{"format": 2}');
    expect(findTemplate('blank', { dir })).toEqual({ reason: expect.stringMatching(/not a template manifest/) });
    expect(templateIsCurrent(dir, MIGRATIONS)).toBe(false);
  });

  it('refuses a template after a migration was edited, and uses one made before a migration was added', () => {
    const dir = fakeTemplate('older');
    const folder = join(scratch, 'migrations-edited');
    cpSync(MIGRATIONS, folder, { recursive: true });
    writeFileSync(join(folder, '0000_init.sql'), `${readFileSync(join(folder, '0000_init.sql'), 'utf8')}\n-- edited\n`);
    expect(findTemplate('migrated', { dir, migrationsFolder: folder })).toEqual({ reason: expect.stringMatching(/out of date/) });

    const grown = join(scratch, 'migrations-grown');
    addMigration(MIGRATIONS, grown, '9999_probe', 'CREATE TABLE "template_probe" ("id" integer);');
    expect('archive' in findTemplate('migrated', { dir, migrationsFolder: grown })).toBe(true);
    // …but a build would replace it: it no longer holds every migration.
    expect(templateIsCurrent(dir, grown)).toBe(false);
  });
});

describe('isNewDataDir', () => {
  it('is true only for an absent or empty folder', () => {
    const dir = join(scratch, 'pgdata');
    expect(isNewDataDir(dir)).toBe(true);
    mkdirSync(dir);
    expect(isNewDataDir(dir)).toBe(true);
    writeFileSync(join(dir, 'postmaster.pid'), '');
    expect(isNewDataDir(dir)).toBe(false);
  });
});

function createHashHex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
