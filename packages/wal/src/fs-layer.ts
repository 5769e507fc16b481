import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FsyncPlacement, type FsyncPlacementOptions } from './fsync-placement.js';

/**
 * An open file as the WAL uses it. Only positional writes: the WAL always knows where its tail is,
 * so a retried or overwritten batch lands at the same offset.
 */
export interface WalFile {
  /** Writes `buf[offset, offset+length)` at file position `position`; resolves with bytes written. */
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** fdatasync: data and the metadata needed to read it back (size), not timestamps. */
  datasync(): Promise<void>;
  /** fsync: data and all metadata. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
  /**
   * Optional fast path: write all of `buf[offset, offset+length)` at `position`, then fdatasync
   * (unless `sync` is false), as one operation. Errors carry `op: 'write' | 'fdatasync'` so the
   * WAL can tell a failed write (retryable) from a failed fdatasync (fatal). Without it the WAL
   * calls {@link write} and {@link datasync}.
   */
  writeDurable?(
    buf: Uint8Array,
    offset: number,
    length: number,
    position: number,
    sync: boolean,
  ): Promise<void>;
}

/**
 * The file-system calls the WAL and snapshotter make. Tests wrap {@link nodeFileSystem} to inject
 * short writes and EIO/ENOSPC at chosen calls.
 */
export interface WalFileSystem {
  /** `flags` are Node's string flags: 'r', 'r+', 'wx' (create exclusively), 'w'. */
  open(path: string, flags: string): Promise<WalFile>;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array, flags: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Makes a directory's entries (creates, renames, unlinks) durable. */
  syncDir(path: string): Promise<void>;
}

/**
 * Node's callback fs API wrapped in promises: the syscalls run on libuv's thread pool, so the event
 * loop stays free during fdatasync. Measured at least as fast as `fs.promises` FileHandle calls and
 * as the worker layer for whole WAL saves on this machine (see README), with no extra thread.
 */
class NodeFile implements WalFile {
  constructor(private readonly fd: number) {}

  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.write(this.fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) =>
      fs.ftruncate(this.fd, length, (err) => (err ? reject(err) : resolve())),
    );
  }

  size(): Promise<number> {
    return new Promise((resolve, reject) =>
      fs.fstat(this.fd, (err, st) => (err ? reject(err) : resolve(st.size))),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

/** The real file system; the default layer. */
export const nodeFileSystem: WalFileSystem = {
  open: (path, flags) =>
    new Promise((resolve, reject) =>
      fs.open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(new NodeFile(fd)))),
    ),
  readFile: (path) => fs.promises.readFile(path),
  writeFile: (path, data, flags) => fs.promises.writeFile(path, data, { flag: flags, mode: 0o600 }),
  readdir: (path) => fs.promises.readdir(path),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  mkdir: async (path) => {
    await fs.promises.mkdir(path, { recursive: true, mode: 0o700 });
  },
  rm: (path) => fs.promises.rm(path, { recursive: true, force: true }),
  exists: async (path) => {
    try {
      await fs.promises.access(path);
      return true;
    } catch {
      return false;
    }
  },
  syncDir: async (path) => {
    const fh = await fs.promises.open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/** Error from a durable write, saying which step failed. */
export interface DurableWriteError extends NodeJS.ErrnoException {
  op: 'write' | 'fdatasync';
}

function opError(op: 'write' | 'fdatasync', err: unknown): DurableWriteError {
  const e = (err instanceof Error ? err : new Error(String(err))) as DurableWriteError;
  e.op = op;
  return e;
}

/**
 * Writes all of `buf[offset, offset+length)` at `position` with blocking calls, continuing short
 * writes; a failure is thrown tagged `op: 'write'`.
 */
function writeAllSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  try {
    while (done < length) {
      const n = fs.writeSync(fd, buf, offset + done, length - done, position + done);
      if (n <= 0) throw new Error(`short write: ${done} of ${length} bytes`);
      done += n;
    }
  } catch (err) {
    throw opError('write', err);
  }
}

/**
 * Synchronous calls: fastest per operation but the event loop waits for every write and
 * fdatasync. Only for tools and measurements (see README).
 */
class SyncFile extends NodeFile {
  constructor(private readonly syncFd: number) {
    super(syncFd);
  }

  override async write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return fs.writeSync(this.syncFd, buf, offset, length, position);
  }

  override async datasync(): Promise<void> {
    fs.fdatasyncSync(this.syncFd);
  }

  async writeDurable(buf: Uint8Array, offset: number, length: number, position: number, sync: boolean) {
    writeAllSync(this.syncFd, buf, offset, length, position);
    if (!sync) return;
    try {
      fs.fdatasyncSync(this.syncFd);
    } catch (err) {
      throw opError('fdatasync', err);
    }
  }
}

/** Like {@link nodeFileSystem} but appends with synchronous calls (blocks the event loop). */
export const syncFileSystem: WalFileSystem = {
  ...nodeFileSystem,
  open: async (path, flags) => new SyncFile(fs.openSync(path, flags, 0o600)),
};

// ---- adaptive: write on the loop, fdatasync on the loop while the device is fast ----

/**
 * Appends with `writeSync` (a copy into the page cache) and makes them durable with `fdatasyncSync`
 * on the event loop or `fdatasync` on the thread pool, as its {@link FsyncPlacement} decides.
 */
class AdaptiveFile extends NodeFile {
  constructor(
    private readonly appendFd: number,
    private readonly placement: FsyncPlacement,
  ) {
    super(appendFd);
  }

  async writeDurable(buf: Uint8Array, offset: number, length: number, position: number, sync: boolean) {
    writeAllSync(this.appendFd, buf, offset, length, position);
    if (!sync) return;
    try {
      if (this.placement.onLoop()) {
        const t0 = performance.now();
        fs.fdatasyncSync(this.appendFd);
        this.placement.record(performance.now() - t0);
      } else {
        await this.datasync();
      }
    } catch (err) {
      throw opError('fdatasync', err);
    }
  }
}

/**
 * Like {@link nodeFileSystem}, but a save's write runs on the event loop and its fdatasync too while
 * the device syncs fast (see {@link FsyncPlacement}); the WAL's default layer. One placement is
 * shared by every file the layer opens (it measures the device, not a file).
 */
export function adaptiveFileSystem(
  opts?: FsyncPlacementOptions,
): WalFileSystem & { placement: FsyncPlacement } {
  const placement = new FsyncPlacement(opts);
  return {
    ...nodeFileSystem,
    placement,
    open: (path, flags) =>
      new Promise((resolve, reject) =>
        fs.open(path, flags, 0o600, (err, fd) =>
          err ? reject(err) : resolve(new AdaptiveFile(fd, placement)),
        ),
      ),
  };
}

/** The default layer of {@link Wal} (one placement per process). */
export const defaultFileSystem = adaptiveFileSystem();

// ---- worker thread: write + fdatasync in one round trip, off the event loop ----

// CommonJS source evaluated in the worker; it shares the process's file descriptors.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', ({ id, fd, buf, position, sync }) => {
  let done = 0;
  try {
    while (done < buf.length) {
      const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
      if (n <= 0) throw new Error('short write: ' + done + ' of ' + buf.length + ' bytes');
      done += n;
    }
  } catch (err) {
    parentPort.postMessage({ id, op: 'write', code: err.code, message: err.message });
    return;
  }
  if (sync) {
    try {
      fs.fdatasyncSync(fd);
    } catch (err) {
      parentPort.postMessage({ id, op: 'fdatasync', code: err.code, message: err.message });
      return;
    }
  }
  parentPort.postMessage({ id });
});
`;

interface WorkerReply {
  id: number;
  op?: 'write' | 'fdatasync';
  code?: string;
  message?: string;
}

/** One worker per process, started on first use; unref'd so it never keeps the process alive. */
class AppendWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  private start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', (r: WorkerReply) => {
      const waiter = this.waiting.get(r.id);
      if (!waiter) return;
      this.waiting.delete(r.id);
      if (r.op === undefined) waiter.resolve();
      else {
        const e = new Error(r.message) as DurableWriteError;
        if (r.code) e.code = r.code;
        e.op = r.op;
        waiter.reject(e);
      }
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', () => {
      this.worker = undefined;
      this.failAll(new Error('wal append worker exited'));
    });
    return w;
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(opError('write', err));
    this.waiting.clear();
  }

  run(fd: number, bytes: Uint8Array, position: number, sync: boolean): Promise<void> {
    this.worker ??= this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Structured clone copies the batch, so the caller may reuse its buffer at once.
      this.worker!.postMessage({ id, fd, buf: bytes, position, sync });
    });
  }
}

const appendWorker = new AppendWorker();

/** Appends through the worker in one round trip; everything else as {@link NodeFile}. */
class WorkerFile extends NodeFile {
  constructor(private readonly workerFd: number) {
    super(workerFd);
  }

  writeDurable(buf: Uint8Array, offset: number, length: number, position: number, sync: boolean) {
    return appendWorker.run(this.workerFd, buf.subarray(offset, offset + length), position, sync);
  }
}

/**
 * Like {@link nodeFileSystem}, but a batch's write and fdatasync run together on a worker thread
 * (one round trip instead of two thread-pool hops). Measured, not the default: see README.
 */
export const workerFileSystem: WalFileSystem = {
  ...nodeFileSystem,
  open: (path, flags) =>
    new Promise((resolve, reject) =>
      fs.open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(new WorkerFile(fd)))),
    ),
};
