import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPglite, type NewPglite } from '../src/storage/pglite-open.js';
import { buildTemplate, migrationStamps, templateIsCurrent, type TemplateManifest } from '../src/storage/pglite-template.js';
import * as schema from '../src/storage/schema.js';
import { addMigration } from './helpers/migrations-folder.js';

// A database started from the build's template must be the database initdb + the migrator make.
// This file builds its own template (one initdb) and a reference the slow way (another initdb).

const MIGRATIONS = fileURLToPath(new URL('../src/storage/migrations', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'lt-template-'));
const templateDir = join(scratch, 'template');

let manifest: TemplateManifest;
let reference: NewPglite;

async function ready(opened: NewPglite, migrationsFolder = MIGRATIONS): Promise<PGlite> {
  await opened.client.waitReady;
  await migrate(drizzle(opened.client), { migrationsFolder });
  return opened.client;
}

/** Everything the migrations define, and the migrator's journal. */
async function schemaOf(pg: PGlite) {
  const rows = async (sql: string) => (await pg.query<Record<string, unknown>>(sql)).rows;
  return {
    columns: await rows(
      `select table_schema, table_name, column_name, ordinal_position, data_type, is_nullable, column_default
         from information_schema.columns where table_schema in ('public', 'drizzle') order by 1, 2, 4`,
    ),
    indexes: await rows(
      `select schemaname, tablename, indexname, indexdef from pg_indexes where schemaname in ('public', 'drizzle') order by 1, 2, 3`,
    ),
    constraints: await rows(
      `select conrelid::regclass::text as rel, conname, pg_get_constraintdef(oid) as def from pg_constraint
         where connamespace in ('public'::regnamespace, 'drizzle'::regnamespace) order by 1, 2`,
    ),
    sequences: await rows(
      `select schemaname, sequencename, last_value from pg_sequences where schemaname in ('public', 'drizzle') order by 1, 2`,
    ),
    journal: await rows(`select id, hash, created_at from drizzle.__drizzle_migrations order by id`),
    // Fixed by initdb: the template and PGlite's initdb must make the same cluster.
    initdb: await rows(
      `select name, setting from pg_settings where name in ('wal_segment_size', 'block_size', 'server_encoding') order by 1`,
    ),
  };
}

beforeAll(async () => {
  manifest = await buildTemplate(templateDir, MIGRATIONS);
  // The slow way, which is also what happens when a clone was never built: no template, initdb.
  reference = newPglite({ migrationsFolder: MIGRATIONS, templateDir: join(scratch, 'never-built') });
  await ready(reference);
}, 120_000);

afterAll(async () => {
  await reference?.client.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the template build', () => {
  it('records the migrations it holds and the PGlite that made it; a second build can skip', () => {
    expect(manifest.migrations).toEqual(migrationStamps(MIGRATIONS));
    expect(manifest.migrations.length).toBeGreaterThan(0);
    expect(manifest.archives.migrated.bytes).toBeGreaterThan(100_000);
    expect(templateIsCurrent(templateDir, MIGRATIONS)).toBe(true);
  });
});

describe('a new database without a usable template', () => {
  it('runs initdb and the migrations, and says why', async () => {
    expect(reference.source).toBe('initdb');
    expect(reference.note).toMatch(/no template/);
    const tables = (await schemaOf(reference.client)).columns.map((c) => `${c.table_schema}.${c.table_name}`);
    for (const table of Object.values(schema).filter(isTable)) expect(tables).toContain(`public.${getTableConfig(table).name}`);
  });
});

describe('a new database from the template', () => {
  it('in memory: has every table, index, constraint and the migrations journal of a migrated database', async () => {
    const opened = newPglite({ migrationsFolder: MIGRATIONS, templateDir });
    expect(opened.source).toBe('template');
    const pg = await ready(opened);
    try {
      const expected = await schemaOf(reference.client);
      expect(expected.journal).toHaveLength(manifest.migrations.length);
      expect(expected.initdb).toContainEqual({ name: 'wal_segment_size', setting: String(1024 * 1024) });
      expect(await schemaOf(pg)).toEqual(expected);
      // Started with the lean settings of pglite-open.ts, not PostgreSQL's 128MB.
      expect((await pg.query('show shared_buffers')).rows).toEqual([{ shared_buffers: '16MB' }]);
      // Only the database PGlite works in: initdb's templates are dropped (their files were most of the folder).
      expect((await pg.query('select datname, current_database() as here from pg_database')).rows).toEqual([
        { datname: 'postgres', here: 'postgres' },
      ]);
    } finally {
      await pg.close();
    }
  });

  it('in memory, again: a second database from the kept tar is the same, and shares nothing with the first', async () => {
    const first = await ready(newPglite({ migrationsFolder: MIGRATIONS, templateDir }));
    const second = await ready(newPglite({ migrationsFolder: MIGRATIONS, templateDir }));
    try {
      await first.query(`insert into portfolios (name, kind, broker, starting_cash) values ('only-here', 'live', 'sim', 100000)`);
      expect((await first.query("select name from portfolios where name = 'only-here'")).rows).toEqual([{ name: 'only-here' }]);
      expect((await second.query("select name from portfolios where name = 'only-here'")).rows).toEqual([]);
      expect(await schemaOf(second)).toEqual(await schemaOf(reference.client));
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('on disk: the same; reopening keeps its data and never loads the template again', async () => {
    // As db.ts does: LLM_TRADING_HOME exists, its pgdata does not yet.
    mkdirSync(join(scratch, 'home'));
    const dataDir = join(scratch, 'home', 'pgdata');
    const opened = newPglite({ dataDir, migrationsFolder: MIGRATIONS, templateDir });
    expect(opened.source).toBe('template');
    const pg = await ready(opened);
    expect(await schemaOf(pg)).toEqual(await schemaOf(reference.client));
    // A row of its own (not the app's schema, which other migrations change): must survive reopening.
    await pg.exec(`create table template_marker (note text); insert into template_marker values ('kept')`);
    await pg.close();

    const again = newPglite({ dataDir, migrationsFolder: MIGRATIONS, templateDir });
    expect(again.source).toBe('existing');
    const reopened = await ready(again);
    try {
      expect((await reopened.query('select note from template_marker')).rows).toEqual([{ note: 'kept' }]);
      expect((await schemaOf(reopened)).journal).toEqual((await schemaOf(reference.client)).journal);
    } finally {
      await reopened.close();
    }
  });

  it('made before a migration was added: the migrator applies the new one on top', async () => {
    const grown = join(scratch, 'migrations-grown');
    addMigration(MIGRATIONS, grown, '9999_probe', 'CREATE TABLE "template_probe" ("id" integer);');
    const opened = newPglite({ migrationsFolder: grown, templateDir });
    expect(opened.source).toBe('template');
    const pg = await ready(opened, grown);
    try {
      const { journal, columns } = await schemaOf(pg);
      expect(journal.map((j) => j.hash)).toEqual(migrationStamps(grown).map((m) => m.hash));
      expect(columns.some((c) => c.table_name === 'template_probe')).toBe(true);
    } finally {
      await pg.close();
    }
  });

  it('blank (no migrations folder given): a database with no schema of ours', async () => {
    const opened = newPglite({ templateDir });
    expect(opened.source).toBe('template');
    await opened.client.waitReady;
    try {
      const { rows } = await opened.client.query(`select nspname from pg_namespace where nspname in ('drizzle') union all
        select table_name from information_schema.tables where table_schema = 'public'`);
      expect(rows).toEqual([]);
    } finally {
      await opened.client.close();
    }
  });
});

function isTable(value: unknown): value is PgTable {
  return is(value, PgTable);
}
