/**
 * How the artifact files reach the disk (storage/artifacts.ts): each file replaced atomically (a
 * temporary file, then a rename), the files of one write in the order given.
 *
 * - `direct`: in this thread, before write() resolves. Used by the weekly commands: a stage's files
 *   are written inside the transaction that commits it, so a stage whose files cannot be written is
 *   not committed.
 * - `behind`: on a worker thread, while this one goes on. Used by backtests, which write about 55
 *   files a week: creating a file cost 0.1–1 ms of kernel time on ext4 in a virtual machine, up to a
 *   third of an offline backtest's wall time, spent on the thread that also runs the embedded
 *   database. write() queues (waiting only while more than `maxBacklogBytes` are queued); a write that
 *   fails is reported by the next write() or flush(). A backtest flushes before it counts a week as
 *   booked and before a decide job completes, so a week that counts has its files; a killed process
 *   loses only files of weeks that do not count yet, and completed stages' missing files are
 *   rewritten when their week runs again (council/pipeline.ts load()).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { threadId, Worker } from 'node:worker_threads';

export interface FileText {
  path: string;
  text: string;
}

export interface FileWriter {
  /** Writes the files, in order, each atomically (direct), or queues them (behind). */
  write(files: readonly FileText[]): Promise<void>;
  /** Resolves when every file written so far is on disk; rejects with the first write that failed. */
  flush(): Promise<void>;
  /** Flushes, then releases what the writer holds (its thread). */
  close(): Promise<void>;
}

export type FileWriterMode = 'direct' | 'behind';

export function createFileWriter(mode: FileWriterMode, options: { maxBacklogBytes?: number } = {}): FileWriter {
  return mode === 'direct' ? new DirectFileWriter() : new BehindFileWriter(options.maxBacklogBytes ?? 8 * 2 ** 20);
}

/** What writing files needs, passed in: the same function runs in this thread and, as source text, in the writer thread. */
interface FsCalls {
  writeFileSync: (path: string, text: string) => void;
  mkdirSync: (path: string, options: { recursive: true }) => unknown;
  renameSync: (from: string, to: string) => void;
  rmSync: (path: string, options: { force: true }) => void;
  dirname: (path: string) => string;
}

/**
 * Writes each file to `<path>.<pid>.<serial>.tmp`, then renames it over `path`; makes a folder only
 * when the write finds it missing (a week writes dozens of files into a few folders, and a mkdir per
 * file was most of the cost of writing them). Self-contained: the writer thread runs its source.
 */
function writeFilesAtomically(files: readonly FileText[], fs: FsCalls, tmpPrefix: string, nextSerial: () => number): void {
  for (const { path, text } of files) {
    const tmp = `${path}.${tmpPrefix}.${nextSerial()}.tmp`;
    try {
      try {
        fs.writeFileSync(tmp, text);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
        fs.mkdirSync(fs.dirname(tmp), { recursive: true });
        fs.writeFileSync(tmp, text);
      }
      fs.renameSync(tmp, path);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      throw error;
    }
  }
}

const FS: FsCalls = { writeFileSync, mkdirSync, renameSync, rmSync, dirname };

/**
 * Unique per write in this process: two writes of one file at once never share a temporary file. The
 * writer thread counts from 10^9 × its thread id, so its names never meet this thread's; the name
 * keeps the `<pid>.<number>.tmp` shape that Artifacts.sweepTemporaryFiles recognizes.
 */
let serial = threadId * 1e9;
const nextSerial = () => ++serial;

class DirectFileWriter implements FileWriter {
  async write(files: readonly FileText[]): Promise<void> {
    writeFilesAtomically(files, FS, String(process.pid), nextSerial);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Messages from the writer thread: one per write, in order. */
interface WriteDone {
  bytes: number;
  error?: { message: string; path: string };
}

// CommonJS, evaluated by the worker: writes each batch it is sent and answers with its size.
const WORKER_SOURCE = `
const { parentPort, threadId } = require('node:worker_threads');
const fs = require('node:fs');
const { dirname } = require('node:path');
const writeFilesAtomically = ${writeFilesAtomically.toString()};
const calls = { writeFileSync: fs.writeFileSync, mkdirSync: fs.mkdirSync, renameSync: fs.renameSync, rmSync: fs.rmSync, dirname };
let serial = threadId * 1e9;
parentPort.on('message', ({ files, bytes }) => {
  let done = 0;
  try {
    for (; done < files.length; done++) writeFilesAtomically([files[done]], calls, String(process.pid), () => ++serial);
    parentPort.postMessage({ bytes });
  } catch (error) {
    parentPort.postMessage({ bytes, error: { message: String(error && error.message || error), path: files[done].path } });
  }
});
`;

class BehindFileWriter implements FileWriter {
  #worker: Worker | undefined;
  #queuedBytes = 0;
  #queuedWrites = 0;
  #failure: Error | undefined;
  /** Told when a write completes: flush() and a write() held back by the backlog wait on them. */
  #waiters: (() => void)[] = [];

  constructor(private readonly maxBacklogBytes: number) {}

  async write(files: readonly FileText[]): Promise<void> {
    this.#throwIfFailed();
    if (files.length === 0) return;
    let bytes = 0;
    for (const f of files) bytes += f.text.length;
    const worker = this.#start();
    worker.postMessage({ files, bytes });
    if (this.#queuedWrites++ === 0) worker.ref(); // the process cannot exit with files still queued
    this.#queuedBytes += bytes;
    while (this.#queuedBytes > this.maxBacklogBytes && !this.#failure) await this.#nextDone();
  }

  async flush(): Promise<void> {
    while (this.#queuedWrites > 0 && !this.#failure) await this.#nextDone();
    this.#throwIfFailed();
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      const worker = this.#worker;
      this.#worker = undefined;
      await worker?.terminate();
    }
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (done: WriteDone) => {
      this.#queuedBytes -= done.bytes;
      if (--this.#queuedWrites === 0) worker.unref();
      if (done.error && !this.#failure) this.#failure = new Error(`cannot write ${done.error.path}: ${done.error.message}`);
      this.#wake();
    });
    const lost = (why: string) => {
      if (this.#worker !== worker) return; // closed: terminate() ends it
      this.#worker = undefined;
      if (this.#queuedWrites > 0 && !this.#failure)
        this.#failure = new Error(`the artifact writer thread ${why} with files still to write`);
      this.#queuedWrites = 0;
      this.#queuedBytes = 0;
      this.#wake();
    };
    worker.on('error', (error) => lost(`failed (${error.message})`));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    this.#worker = worker;
    return worker;
  }

  #nextDone(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }
}
