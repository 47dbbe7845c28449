/**
 * Unpacks a template archive (pglite-template.ts: a gzipped ustar of a PGlite data directory, as
 * PGlite's dumpDataDir writes it) into a new data directory on disk, before PGlite opens it.
 *
 * Why not PGlite's own `loadDataDir`: it reads and unzips the whole archive in memory (≈ 30 MB) and
 * unpacks it through the WebAssembly instance, and the process stays ≈ 100 MB larger for the rest of
 * its life (a 52-week backtest peaked at ≈ 450 MB after a template load, ≈ 330 MB on an unpacked
 * folder): WebAssembly memory never shrinks, and once the C allocator has handed out and freed a
 * block that large, it serves later allocations from its heap instead of returning memory. Here the
 * archive streams through in 64 KB pieces straight into the files.
 *
 * Checked and atomic: the archive's size and SHA-256 are verified as it streams, and the files go to
 * a temporary sibling folder renamed into place only then, so a damaged archive or a process killed
 * while unpacking leaves no half-made database.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

const BLOCK = 512;
const CHUNK = 64 * 1024;

/** Unpacks the gzipped archive at `path` (of `bytes` bytes and this SHA-256) into `dataDir`, absent or an empty folder. */
export async function unpackTemplate(archive: { path: string; bytes: number; sha256: string }, dataDir: string): Promise<void> {
  const tmp = `${dataDir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  try {
    const hash = createHash('sha256');
    let read = 0;
    const checksum = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        read += chunk.length;
        done(null, chunk);
      },
    });
    const untar = new TarWriter(tmp);
    await pipeline(createReadStream(archive.path, { highWaterMark: CHUNK }), checksum, createGunzip({ chunkSize: CHUNK }), untar);
    if (read !== archive.bytes || hash.digest('hex') !== archive.sha256) throw new Error(`template archive ${archive.path} is damaged`);
    // An empty folder may stand where the database goes (a new LLM_TRADING_HOME made by hand).
    try {
      rmdirSync(dataDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    renameSync(tmp, dataDir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** Writes the regular files and folders of a ustar stream under `root`, each file's bytes as they arrive. */
class TarWriter extends Writable {
  /** Bytes of the header being read. */
  #header = Buffer.alloc(BLOCK);
  #headerBytes = 0;
  /** The file being written (or skipped: -1), its bytes still to come, then its padding. */
  #fd = -1;
  #remaining = 0;
  #padding = 0;
  #ended = false;

  constructor(private readonly root: string) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    try {
      let at = 0;
      while (at < chunk.length && !this.#ended) {
        if (this.#remaining > 0) {
          const n = Math.min(this.#remaining, chunk.length - at);
          if (this.#fd >= 0) writeSync(this.#fd, chunk, at, n);
          this.#remaining -= n;
          at += n;
          if (this.#remaining === 0) this.#closeFile();
        } else if (this.#padding > 0) {
          const n = Math.min(this.#padding, chunk.length - at);
          this.#padding -= n;
          at += n;
        } else {
          const n = Math.min(BLOCK - this.#headerBytes, chunk.length - at);
          chunk.copy(this.#header, this.#headerBytes, at, at + n);
          this.#headerBytes += n;
          at += n;
          if (this.#headerBytes === BLOCK) {
            this.#headerBytes = 0;
            this.#entry();
          }
        }
      }
      done();
    } catch (error) {
      this.#closeFile();
      done(error instanceof Error ? error : new Error(String(error)));
    }
  }

  override _final(done: (error?: Error | null) => void): void {
    const whole = this.#remaining === 0 && this.#headerBytes === 0;
    done(whole ? null : new Error('the template archive ends in the middle of an entry'));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#closeFile();
    done(error);
  }

  /** Starts the entry whose header was just read. */
  #entry(): void {
    const header = this.#header;
    if (header.every((b) => b === 0)) {
      this.#ended = true; // the end-of-archive blocks
      return;
    }
    const text = (from: number, length: number) => header.toString('latin1', from, from + length).replace(/\0.*$/s, '');
    const octal = (from: number, length: number) => parseInt(text(from, length).trim() || '0', 8);
    const prefix = header.toString('latin1', 257, 262) === 'ustar' ? text(345, 155) : '';
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    const mode = octal(100, 8) & 0o777;
    const size = octal(124, 12);
    const flag = String.fromCharCode(header[156] ?? 0);
    // Names are the data directory's own paths ('/base/1/112'); nothing may point outside it.
    const relative = normalize(name.replace(/^\/+/, ''));
    if (relative === '..' || relative.startsWith(`..${sep}`)) throw new Error(`template entry ${name} leaves the data directory`);
    const path = join(this.root, relative);
    if (flag === '5') mkdirSync(path, { recursive: true, mode });
    else if (flag === '0' || flag === '\0') {
      mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
      this.#fd = openSync(path, 'w', mode);
      this.#remaining = size;
      this.#padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) this.#closeFile();
    } else throw new Error(`unexpected entry ${JSON.stringify(name)} of type ${JSON.stringify(flag)} in a template archive`);
  }

  #closeFile(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
