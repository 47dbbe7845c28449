/**
 * One process at a time on an embedded database. PGlite is PostgreSQL in single-user mode: two
 * processes opening one data folder corrupt it (issue P3 #2). Before opening <home>/pgdata a process
 * takes <home>/pgdata.lock: a file created with O_EXCL holding the owner's pid, host, boot id and
 * process start time. Another process waits (polling, up to a timeout) or gives up with a message
 * naming the owner.
 *
 * A lock whose owner is gone (killed with -9, crashed, machine rebooted) is taken over at once: on the
 * same host (and boot) the owner is alive only if its pid runs with the recorded start time, so a
 * recycled pid does not keep a dead lock alive, and is not a zombie (killed, not yet reaped). A lock
 * from another host cannot be checked and is respected; the message says how to remove it. Liveness
 * is checked by pid rather than by a heartbeat (as proper-lockfile does) because PGlite's WebAssembly
 * work can block the event loop for seconds, which would make a heartbeat lock look stale while its
 * owner is busy.
 *
 * Taking over a dead lock renames it aside first and checks that what it moved is the dead lock, so
 * two processes recovering at once cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, openSync, readFileSync, renameSync, rmSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { UserError } from '../errors.js';

const LockFile = z.object({
  pid: z.number().int(),
  host: z.string(),
  boot_id: z.string().nullable(),
  start_time: z.string().nullable(),
  nonce: z.string(),
  command: z.string(),
  since: z.string(),
});
type LockFile = z.infer<typeof LockFile>;

export class HomeLockedError extends UserError {}

export interface HomeLockOptions {
  /** How long to wait for another process (0: do not wait). */
  timeoutMs: number;
  /** What this process is doing, shown to a process that waits for it. */
  command: string;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: string) => void;
  pollMs?: number;
}

export interface HomeLock {
  path: string;
  release(): void;
}

export async function acquireHomeLock(path: string, options: HomeLockOptions): Promise<HomeLock> {
  const mine: LockFile = {
    pid: process.pid,
    host: hostname(),
    boot_id: bootId(),
    start_time: startTimeOf(process.pid),
    nonce: randomBytes(8).toString('hex'),
    command: options.command,
    since: new Date().toISOString(),
  };
  const deadline = Date.now() + options.timeoutMs;
  let waiting = false;
  for (;;) {
    if (tryCreate(path, mine)) break;
    const holder = readLock(path);
    if (holder === 'missing') continue;
    if (holder !== 'unreadable' && isDead(holder)) {
      takeOver(path, holder);
      continue;
    }
    if (holder === 'unreadable' && !waiting) {
      // A lock being written this very moment reads as empty: look again before judging it.
      await sleep(50);
      if (readLock(path) === 'unreadable') rmIfStillUnreadable(path);
      continue;
    }
    const who = holder === 'unreadable' ? 'another process' : describeHolder(holder);
    if (Date.now() >= deadline)
      throw new HomeLockedError(
        `${who} is using ${path.replace(/\.lock$/, '')}${options.timeoutMs > 0 ? ` (waited ${Math.round(options.timeoutMs / 1000)} s)` : ''}: ` +
          `wait for it, raise --lock-timeout, or use PostgreSQL (DATABASE_URL) for concurrent work` +
          (holder !== 'unreadable' && holder.host !== mine.host ? `; if no process on ${holder.host} uses it, delete ${path}` : ''),
      );
    if (!waiting) {
      waiting = true;
      options.onWait?.(who);
    }
    await sleep(Math.min(options.pollMs ?? 200, Math.max(1, deadline - Date.now())));
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own lock: never delete one another process took over after a (wrongly) judged death.
    const current = readLock(path);
    if (current !== 'missing' && current !== 'unreadable' && current.nonce === mine.nonce) rmSync(path, { force: true });
  };
  // A normal exit, or one after a signal handler, still releases: a kill -9 leaves a lock that the
  // next process recognises as dead.
  process.on('exit', release);
  return { path, release };
}

function tryCreate(path: string, lock: LockFile): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(lock)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * The live process holding the lock at `path` on this machine (pid and what it runs), or null: none,
 * unreadable, on another machine, or dead (a lock left by a killed process). Reads only.
 */
export function liveHomeLockHolder(path: string): { pid: number; command: string } | null {
  const holder = readLock(path);
  if (holder === 'missing' || holder === 'unreadable' || holder.host !== hostname() || isDead(holder)) return null;
  return { pid: holder.pid, command: holder.command };
}

function readLock(path: string): LockFile | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  try {
    const parsed = LockFile.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** A lock file that stays unparseable (a process killed between create and write) belongs to nobody. */
function rmIfStillUnreadable(path: string): void {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.unreadable`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const moved = readLock(aside);
  if (moved !== 'unreadable' && moved !== 'missing') restore(aside, path);
  else rmSync(aside, { force: true });
}

/** Moves a dead lock aside; if what moved is not that lock (someone just took over), puts it back. */
function takeOver(path: string, dead: LockFile): void {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = readLock(aside);
  if (moved !== 'missing' && moved !== 'unreadable' && moved.nonce !== dead.nonce) restore(aside, path);
  else rmSync(aside, { force: true });
}

function restore(aside: string, path: string): void {
  try {
    linkSync(aside, path);
  } catch {
    // A new lock exists already; the one we moved lost the race to it.
  }
  rmSync(aside, { force: true });
}

function isDead(lock: LockFile): boolean {
  if (lock.host !== hostname()) return false;
  const boot = bootId();
  if (lock.boot_id && boot && lock.boot_id !== boot) return true;
  try {
    process.kill(lock.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const stat = procStat(lock.pid);
  // A zombie (Z) or dying (X) process holds no files: it was killed and its parent has not reaped it
  // yet (a container whose first process does not reap orphans keeps such zombies for good).
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return true;
  return lock.start_time !== null && stat !== null && stat.startTime !== lock.start_time;
}

function describeHolder(lock: LockFile): string {
  return `process ${lock.pid}${lock.host !== hostname() ? ` on ${lock.host}` : ''} (${lock.command}, since ${lock.since})`;
}

/** Linux: the kernel's boot id; elsewhere null (then a pid check alone decides). */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** Linux: field 22 of /proc/<pid>/stat, the process's start time in clock ticks after boot. */
function startTimeOf(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** Linux: a process's state letter and start time (in clock ticks since boot) from /proc; elsewhere null. */
function procStat(pid: number): { state: string; startTime: string | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTime: fields[19] ?? null };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
