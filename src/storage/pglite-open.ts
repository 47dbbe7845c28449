import { existsSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { PGlite, type ParserOptions } from '@electric-sql/pglite';
import {
  findTemplate,
  PGLITE_INITDB_PARAMS,
  readTemplate,
  templateArchive,
  type TemplateKind,
  type TemplateLookup,
} from './pglite-template.js';
import { unpackTemplate } from './template-extract.js';

/**
 * How this project starts a PGlite instance: with lean server settings, and from a prepared template
 * (pglite-template.ts) when the database is new.
 *
 * shared_buffers: PostgreSQL's default of 128MB is zeroed at every start (a memset inside the WASM
 * heap): ≈ 0.4 s and ≈ 120 MB of resident memory per open on the 2-core machine. An embedded
 * database of a few MB needs far less; 16MB keeps it all cached. The other settings stay PGlite's.
 */
export const PGLITE_START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

export interface NewPgliteOptions {
  /** A folder on disk; undefined = in memory. */
  dataDir?: string | undefined;
  parsers?: ParserOptions;
  /**
   * The migrations the caller will apply: a new database starts from the migrated template when that
   * holds a prefix of them. Without it, a new database starts from the blank template (no schema).
   */
  migrationsFolder?: string;
  /** Where the templates are (default dist/pglite-template). */
  templateDir?: string;
}

export interface NewPglite {
  /** Not awaited: the caller awaits `waitReady` and reports a failure as it sees fit. */
  client: PGlite;
  /** `existing`: a data folder that already held a database (a template never touches one). */
  source: 'template' | 'initdb' | 'existing';
  /** Why no template was used for a new database. */
  note?: string;
}

export function newPglite(options: NewPgliteOptions): NewPglite {
  const base = {
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    ...(options.parsers ? { parsers: options.parsers } : {}),
    startParams: [...PGLITE_START_PARAMS],
    // After every statement PGlite syncs its virtual file system to storage, behind a mutex. For the
    // memory and Node file systems that sync does nothing (PostgreSQL's own writes and fsyncs go
    // straight to the files), so waiting for it only adds a round trip per statement. (It matters
    // for IndexedDB, which this project does not use.)
    relaxedDurability: true,
  };
  if (options.dataDir !== undefined && !isNewDataDir(options.dataDir)) return { client: new PGlite(base), source: 'existing' };
  const kind = options.migrationsFolder ? 'migrated' : 'blank';
  const where = {
    ...(options.templateDir ? { dir: options.templateDir } : {}),
    ...(options.migrationsFolder ? { migrationsFolder: options.migrationsFolder } : {}),
  };
  const found = options.dataDir === undefined ? memoryTemplate(kind, where) : findTemplate(kind, where);
  // Without a template, PGlite's initdb makes the database with the settings a template has.
  if ('reason' in found)
    return { client: new PGlite({ ...base, initDbStartParams: [...PGLITE_INITDB_PARAMS] }), source: 'initdb', note: found.reason };
  // PGlite itself also refuses to load a tarball over an existing database.
  return { client: new PGlite({ ...base, loadDataDir: found.archive }), source: 'template' };
}

/**
 * In-memory databases (tests, benchmarks) start from the template's tar unzipped once per process and
 * kept, keyed by its checksum: PGlite then only untars it. Measured on the 2-core machine, a memory
 * database was ready in 0.37–0.51 s this way against 0.65–0.69 s from the gzipped archive (a test run
 * opens dozens). The 16 MB tar stays in memory (twice, see BytesBlob) for the life of a process that
 * made one; the CLI's database is on disk (unpackTemplateOnDisk) and never loads it.
 */
const unzippedTemplates = new Map<string, Blob>();

/**
 * A Blob whose bytes are read in one copy. PGlite reads the tar with `arrayBuffer()`, which Node 20
 * serves from a Blob in chunks concatenated one by one: 1.1 s of the CPU of eight in-memory opens
 * (profiled); alternated runs of eight opens were about a tenth faster this way (≈ 50 ms an open once
 * the WebAssembly is warm). Each read gets its own copy, as from a Blob. The bytes are kept twice
 * (the Blob's own copy stays true for any other reader): 32 MB in a process that opens memory
 * databases, which the CLI never does.
 */
class BytesBlob extends Blob {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    super([bytes]);
    this.#bytes = bytes;
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.#bytes.slice().buffer);
  }
}

function memoryTemplate(kind: TemplateKind, options: { dir?: string; migrationsFolder?: string }): TemplateLookup {
  const where = templateArchive(kind, options);
  if ('reason' in where) return where;
  const known = unzippedTemplates.get(where.archive.sha256);
  if (known) return { archive: known };
  const found = readTemplate(kind, options);
  if ('reason' in found) return found;
  const tar = new BytesBlob(gunzipSync(found.gzip));
  unzippedTemplates.set(found.sha256, tar);
  return { archive: tar };
}

/**
 * Unpacks the migrated template (or the blank one without migrations) into a new data folder on disk,
 * so that PGlite then opens an existing database (template-extract.ts says why this beats PGlite's own
 * loader). Returns why it did not when it did not: no usable template, a folder that is not new, or a
 * failure (the folder is then left as it was, and newPglite falls back to its own ways).
 */
export async function unpackTemplateOnDisk(
  dataDir: string,
  options: { migrationsFolder?: string | undefined; templateDir?: string } = {},
): Promise<string | null> {
  if (!isNewDataDir(dataDir)) return 'not a new data folder';
  const found = templateArchive(options.migrationsFolder ? 'migrated' : 'blank', {
    ...(options.templateDir ? { dir: options.templateDir } : {}),
    ...(options.migrationsFolder ? { migrationsFolder: options.migrationsFolder } : {}),
  });
  if ('reason' in found) return found.reason;
  try {
    await unpackTemplate({ path: found.path, bytes: found.archive.bytes, sha256: found.archive.sha256 }, dataDir);
    return null;
  } catch (error) {
    return `cannot unpack the template: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * A data folder a template may be loaded into: absent, or an empty folder. Anything in it — a
 * database, or what an interrupted start left — is never overwritten; PGlite handles it as before.
 */
export function isNewDataDir(dataDir: string): boolean {
  return !existsSync(dataDir) || readdirSync(dataDir).length === 0;
}
