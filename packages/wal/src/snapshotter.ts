/**
 * Snapshot files in their own directory, named `%016x-%016x.snap` (term, index) like etcd.
 *
 * File layout (little endian): [0,8) magic "KVSNAP01", [8,16) term, [16,24) index,
 * [24,28) crc32c of bytes [0,24) followed by the data, then the data. A file is written under
 * `NAME.snap.tmp`, fdatasynced, renamed into place and the directory fsynced, so a visible `.snap`
 * is always complete; a file that fails its checksum is renamed to `.broken` and skipped.
 */
import { join } from 'node:path';
import { crc32c } from './crc32c.js';
import { WalError, WalIOError } from './errors.js';
import { nodeFileSystem, type WalFileSystem } from './fs-layer.js';
import { copyBytes } from './record.js';
import type { WalLogger, WalSnapshotMarker } from './types.js';

/** A snapshot's raft position and the state machine bytes at that point. */
export interface SnapshotFile {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface SnapshotterOptions {
  fs?: WalFileSystem;
  noSync?: boolean;
  logger?: WalLogger;
}

const MAGIC = new TextEncoder().encode('KVSNAP01');
const HEADER = 28;
const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

function putU64(view: DataView, pos: number, v: number): void {
  view.setUint32(pos, v % 0x100000000, true);
  view.setUint32(pos + 4, Math.floor(v / 0x100000000), true);
}

const getU64 = (view: DataView, pos: number): number =>
  view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 0x100000000;

/** Writes, finds, verifies and purges snapshot files in one directory. */
export class Snapshotter {
  private readonly fs: WalFileSystem;
  private readonly noSync: boolean;
  private readonly logger: WalLogger;

  constructor(
    readonly dir: string,
    options?: SnapshotterOptions,
  ) {
    this.fs = options?.fs ?? nodeFileSystem;
    this.noSync = options?.noSync ?? false;
    this.logger = options?.logger ?? (() => {});
  }

  /** File name for a snapshot at (term, index). */
  static fileName(term: number, index: number): string {
    return `${hex16(term)}-${hex16(index)}.snap`;
  }

  /** Durably writes a snapshot: temp file, fdatasync, atomic rename, directory fsync. */
  async save(snap: SnapshotFile): Promise<void> {
    if (snap.index === 0 && snap.term === 0)
      throw new WalError('snapshotter: refusing an empty snapshot (0/0)');
    const bytes = new Uint8Array(HEADER + snap.data.length);
    const view = new DataView(bytes.buffer);
    bytes.set(MAGIC, 0);
    putU64(view, 8, snap.term);
    putU64(view, 16, snap.index);
    bytes.set(snap.data, HEADER);
    view.setUint32(24, crc32c(crc32c(0, bytes, 0, 24), bytes, HEADER), true);

    const fs = this.fs;
    await this.io('mkdir', this.dir, () => fs.mkdir(this.dir));
    const path = join(this.dir, Snapshotter.fileName(snap.term, snap.index));
    const tmp = `${path}.tmp`;
    try {
      const file = await this.io('create', tmp, () => fs.open(tmp, 'w'));
      try {
        let done = 0;
        while (done < bytes.length) {
          const n = await this.io('write', tmp, () => file.write(bytes, done, bytes.length - done, done));
          if (n <= 0)
            throw new WalIOError('write', tmp, new Error(`short write: ${done} of ${bytes.length}`));
          done += n;
        }
        if (!this.noSync) await this.io('fdatasync', tmp, () => file.datasync());
      } finally {
        await file.close().catch(() => {});
      }
      await this.io('rename', tmp, () => fs.rename(tmp, path));
    } catch (err) {
      await fs.unlink(tmp).catch(() => {});
      throw err;
    }
    if (!this.noSync) await this.io('fsync dir', this.dir, () => fs.syncDir(this.dir));
  }

  /** The newest snapshot whose checksum verifies, or undefined if there is none. */
  async loadNewest(): Promise<SnapshotFile | undefined> {
    return this.loadMatching(() => true);
  }

  /**
   * The newest verifiable snapshot that the WAL also holds a marker for (etcd's
   * LoadNewestAvailable): a snapshot written after the last WAL marker is ignored, since the WAL
   * could not be opened from it.
   */
  async loadNewestAvailable(markers: readonly WalSnapshotMarker[]): Promise<SnapshotFile | undefined> {
    const known = new Set(markers.map((m) => `${m.term}/${m.index}`));
    return this.loadMatching((term, index) => known.has(`${term}/${index}`));
  }

  /** Snapshot file names, newest first. */
  async list(): Promise<string[]> {
    if (!(await this.fs.exists(this.dir))) return [];
    const names = await this.io('readdir', this.dir, () => this.fs.readdir(this.dir));
    return names.filter((n) => NAME.test(n)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }

  /** Deletes all but the newest `keep` snapshot files, plus leftover temp files. */
  async purge(keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1) throw new WalError('snapshotter: purge must keep at least 1');
    const names = await this.list();
    const removed: string[] = [];
    for (const n of names.slice(keep)) {
      await this.io('unlink', n, () => this.fs.unlink(join(this.dir, n)));
      removed.push(n);
    }
    for (const n of await this.io('readdir', this.dir, () => this.fs.readdir(this.dir))) {
      if (n.endsWith('.snap.tmp')) await this.fs.unlink(join(this.dir, n)).catch(() => {});
    }
    if (removed.length > 0 && !this.noSync)
      await this.io('fsync dir', this.dir, () => this.fs.syncDir(this.dir));
    return removed;
  }

  private async loadMatching(
    accept: (term: number, index: number) => boolean,
  ): Promise<SnapshotFile | undefined> {
    for (const name of await this.list()) {
      const m = NAME.exec(name)!;
      const term = Number.parseInt(m[1]!, 16);
      const index = Number.parseInt(m[2]!, 16);
      if (!accept(term, index)) continue;
      const path = join(this.dir, name);
      const bytes = await this.io('read', path, () => this.fs.readFile(path));
      const problem = verify(bytes, term, index);
      if (problem === undefined) return { term, index, data: copyBytes(bytes, HEADER, bytes.length) };
      this.logger('warn', 'snapshotter: skipping broken snapshot', { file: path, reason: problem });
      await this.fs.rename(path, `${path}.broken`).catch(() => {});
    }
    return undefined;
  }

  private async io<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WalError) throw err;
      throw new WalIOError(op, path, err);
    }
  }
}

/** Returns why a snapshot file's bytes are unusable, or undefined if they verify. */
function verify(bytes: Uint8Array, term: number, index: number): string | undefined {
  if (bytes.length < HEADER) return 'shorter than its header';
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return 'bad magic';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (getU64(view, 8) !== term || getU64(view, 16) !== index) return 'header does not match file name';
  const stored = view.getUint32(24, true);
  const computed = crc32c(crc32c(0, bytes, 0, 24), bytes, HEADER);
  if (stored !== computed) return `crc mismatch: stored ${stored}, computed ${computed}`;
  return undefined;
}
