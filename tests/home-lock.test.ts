/**
 * The embedded database's lock and processes that are neither running nor gone: a process killed with
 * -9 whose parent has not reaped it stays a zombie, which `kill(pid, 0)` still finds. Its lock must be
 * free, as a dead process's is (a container whose first process does not reap orphans keeps zombies
 * for good, and the next command would wait out its --lock-timeout for nobody).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireHomeLock, HomeLockedError, liveHomeLockHolder } from '../src/storage/home-lock.js';

const linux = process.platform === 'linux';
const dir = mkdtempSync(join(tmpdir(), 'lt-home-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function stat(pid: number): { state: string; startTime: string } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] as string, startTime: fields[19] as string };
}

/** A lock file as another process on this machine would have written it. */
function lockOf(pid: number, name: string): string {
  const path = join(dir, `${name}.lock`);
  writeFileSync(
    path,
    JSON.stringify({
      pid,
      host: hostname(),
      boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      start_time: stat(pid).startTime,
      nonce: '0123456789abcdef',
      command: 'llm-trading backtest',
      since: new Date().toISOString(),
    }),
  );
  return path;
}

/**
 * A zombie and its parent: `sh` starts a short sleep in the background, prints its pid, then becomes
 * a long sleep, which never waits for its child.
 */
async function zombieAndParent(): Promise<{ zombie: number; parent: number }> {
  const child = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const zombie = await new Promise<number>((resolve) => child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim()))));
  for (let i = 0; i < 200 && stat(zombie).state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
  return { zombie, parent: child.pid as number };
}

describe.runIf(linux)('home lock: a zombie holds nothing', () => {
  it('a lock whose process is a zombie is free; a live process still holds its own', async () => {
    const { zombie, parent } = await zombieAndParent();
    expect(stat(zombie).state).toBe('Z');
    expect(() => process.kill(zombie, 0)).not.toThrow(); // what a pid check alone would call alive

    const zombieLock = lockOf(zombie, 'zombie');
    expect(liveHomeLockHolder(zombieLock)).toBeNull();
    const taken = await acquireHomeLock(zombieLock, { timeoutMs: 0, command: 'test' });
    expect(JSON.parse(readFileSync(zombieLock, 'utf8'))).toMatchObject({ pid: process.pid, command: 'test' });
    taken.release();

    const liveLock = lockOf(parent, 'live');
    expect(liveHomeLockHolder(liveLock)).toEqual({ pid: parent, command: 'llm-trading backtest' });
    await expect(acquireHomeLock(liveLock, { timeoutMs: 0, command: 'test' })).rejects.toBeInstanceOf(HomeLockedError);
  });
});
