import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { nodeFileSystem, type WalEntry, type WalFile, type WalFileSystem } from '../src/index.js';

const dirs: string[] = [];

/** A fresh temporary directory, removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kv-wal-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Deterministic entry payload for an index, so readers can check content, not just count. */
export function payload(index: number, size = 32): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (index * 31 + i * 7 + 1) & 0xff;
  return out;
}

export function entries(from: number, count: number, term = 1, size = 32): WalEntry[] {
  const out: WalEntry[] = [];
  for (let i = from; i < from + count; i++) out.push({ term, index: i, type: 0, data: payload(i, size) });
  return out;
}

export const meta = new TextEncoder().encode('member=1 cluster=7');

export type FaultOp =
  | 'open'
  | 'write'
  | 'datasync'
  | 'truncate'
  | 'rename'
  | 'syncDir'
  | 'readFile'
  | 'unlink';
export type FaultKind = 'EIO' | 'ENOSPC' | 'zero-write' | 'half-write' | 'half-then-EIO';

interface Rule {
  op: FaultOp;
  kind: FaultKind;
  /** Only calls whose path contains this. */
  match?: string;
  /** Skip this many matching calls first. */
  skip: number;
  /** How many matching calls to fail (Infinity = until cleared). */
  times: number;
}

function errno(code: 'EIO' | 'ENOSPC', op: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected fault, ${op}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/**
 * Real file system with injectable faults: EIO/ENOSPC on chosen calls, writes that make partial or
 * no progress. Also counts calls, so tests can check group commit (one fdatasync per save).
 */
export class FaultyFs implements WalFileSystem {
  readonly calls: Record<string, number> = {};
  private rules: Rule[] = [];

  /** @param base the real layer underneath; with workerFileSystem the WAL's one-hop path is used. */
  constructor(private readonly base: WalFileSystem = nodeFileSystem) {}

  fail(op: FaultOp, kind: FaultKind, opts: { match?: string; skip?: number; times?: number } = {}): void {
    this.rules.push({ op, kind, match: opts.match, skip: opts.skip ?? 0, times: opts.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** Returns the fault to apply to this call, if any, and counts the call. */
  private hit(op: FaultOp, path: string): FaultKind | undefined {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    for (const r of this.rules) {
      if (r.op !== op || (r.match && !path.includes(r.match)) || r.times <= 0) continue;
      if (r.skip > 0) {
        r.skip--;
        continue;
      }
      r.times--;
      return r.kind;
    }
    return undefined;
  }

  private check(op: FaultOp, path: string): void {
    const k = this.hit(op, path);
    if (k === 'EIO' || k === 'ENOSPC') throw errno(k, op);
  }

  async open(path: string, flags: string): Promise<WalFile> {
    this.check('open', path);
    const inner = await this.base.open(path, flags);
    const self = this;
    const durable = inner.writeDurable?.bind(inner);
    const opFault = (op: 'write' | 'fdatasync', code: 'EIO' | 'ENOSPC') =>
      Object.assign(errno(code, op), { op });
    const file: WalFile = {
      async write(buf, offset, length, position) {
        const k = self.hit('write', path);
        if (k === 'EIO' || k === 'ENOSPC') throw errno(k, 'write');
        if (k === 'zero-write') return 0;
        if (k === 'half-write' || k === 'half-then-EIO') {
          const half = Math.max(1, length >> 1);
          const n = await inner.write(buf, offset, half, position);
          if (k === 'half-then-EIO') self.fail('write', 'EIO', { match: path });
          return n;
        }
        return inner.write(buf, offset, length, position);
      },
      async datasync() {
        self.check('datasync', path);
        return inner.datasync();
      },
      sync: () => inner.sync(),
      async truncate(len) {
        self.check('truncate', path);
        return inner.truncate(len);
      },
      size: () => inner.size(),
      close: () => inner.close(),
    };
    if (durable) {
      // Same faults on the one-call path: which step failed travels in `op`.
      file.writeDurable = async (buf, offset, length, position, sync) => {
        const k = self.hit('write', path);
        if (k === 'EIO' || k === 'ENOSPC') throw opFault('write', k);
        if (k === 'zero-write') throw Object.assign(new Error('short write: 0 bytes'), { op: 'write' });
        if (k === 'half-then-EIO') {
          await inner.write(buf, offset, Math.max(1, length >> 1), position);
          throw opFault('write', 'EIO');
        }
        if (k === 'half-write') {
          // A short write that the layer itself continues: the rest goes in a second call.
          const half = Math.max(1, length >> 1);
          await inner.write(buf, offset, half, position);
          return durable(buf, offset + half, length - half, position + half, sync);
        }
        if (sync) {
          const d = self.hit('datasync', path);
          if (d === 'EIO' || d === 'ENOSPC') {
            await inner.write(buf, offset, length, position);
            throw opFault('fdatasync', d);
          }
        }
        return durable(buf, offset, length, position, sync);
      };
    }
    return file;
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.check('readFile', path);
    return nodeFileSystem.readFile(path);
  }

  async writeFile(path: string, data: Uint8Array, flags: string): Promise<void> {
    this.check('write', path);
    return nodeFileSystem.writeFile(path, data, flags);
  }

  readdir = (path: string) => this.base.readdir(path);

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', from);
    return nodeFileSystem.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    return nodeFileSystem.unlink(path);
  }

  mkdir = (path: string) => nodeFileSystem.mkdir(path);
  rm = (path: string) => nodeFileSystem.rm(path);
  exists = (path: string) => nodeFileSystem.exists(path);

  async syncDir(path: string): Promise<void> {
    this.check('syncDir', path);
    return nodeFileSystem.syncDir(path);
  }
}
