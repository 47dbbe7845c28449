import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { unpackTemplate } from './template-extract.js';

const scratch = mkdtempSync(join(tmpdir(), 'lt-extract-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A gzipped ustar archive of a small tree (made by the system's tar), written to a file. */
function archiveOf(name: string, transform: (gz: Buffer) => Buffer = (gz) => gz): { path: string; bytes: number; sha256: string } {
  const src = join(scratch, `src-${name}`);
  mkdirSync(join(src, 'base', '5'), { recursive: true });
  writeFileSync(join(src, 'PG_VERSION'), '17\n', { mode: 0o600 });
  // Larger than the 64 KB pieces it streams in, and not a multiple of a tar block.
  writeFileSync(join(src, 'base', '5', '1259'), Buffer.alloc(3 * 65536 + 17, 7), { mode: 0o640 });
  writeFileSync(join(src, 'base', '5', 'empty'), '');
  const gz = gzipSync(execFileSync('tar', ['--format=ustar', '-cf', '-', '-C', src, 'PG_VERSION', 'base']));
  const path = join(scratch, `${name}.tar.gz`);
  writeFileSync(path, transform(gz));
  return { path, bytes: gz.length, sha256: createHash('sha256').update(gz).digest('hex') };
}

describe('unpacking a template archive', () => {
  it('writes every file with its content and mode, through a temporary folder renamed into place', async () => {
    const home = join(scratch, 'home');
    mkdirSync(join(home, 'pgdata'), { recursive: true }); // an empty folder may stand in its place
    await unpackTemplate(archiveOf('good'), join(home, 'pgdata'));
    expect(readdirSync(home)).toEqual(['pgdata']);
    expect(readFileSync(join(home, 'pgdata', 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(readFileSync(join(home, 'pgdata', 'base', '5', '1259'))).toEqual(Buffer.alloc(3 * 65536 + 17, 7));
    expect(statSync(join(home, 'pgdata', 'base', '5', '1259')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(home, 'pgdata', 'base', '5', 'empty'))).toHaveLength(0);
  });

  it('never unpacks over a folder that holds anything, nor a damaged archive, and leaves nothing behind', async () => {
    const home = join(scratch, 'busy');
    mkdirSync(join(home, 'pgdata'), { recursive: true });
    writeFileSync(join(home, 'pgdata', 'postmaster.pid'), '1');
    await expect(unpackTemplate(archiveOf('busy'), join(home, 'pgdata'))).rejects.toThrow();
    expect(readdirSync(join(home, 'pgdata'))).toEqual(['postmaster.pid']);

    const flipped = archiveOf('flipped', (gz) => Buffer.concat([gz.subarray(0, 100), Buffer.from([gz[100]! ^ 1]), gz.subarray(101)]));
    await expect(unpackTemplate(flipped, join(home, 'flipped'))).rejects.toThrow();
    const truncated = archiveOf('truncated', (gz) => gz.subarray(0, gz.length - 40));
    await expect(unpackTemplate(truncated, join(home, 'truncated'))).rejects.toThrow();
    expect(readdirSync(home)).toEqual(['pgdata']);
  });
});
