/** Shared test plumbing: every engine, temp directories that are cleaned up. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, type EngineName, openBackend } from '../../src/index.js';

export const ENGINES: EngineName[] = ['memory', 'level', 'lmdb'];
export const DISK_ENGINES: EngineName[] = ['level', 'lmdb'];

const dirs: string[] = [];

/** A fresh directory under the OS temp dir. */
export async function tempDir(tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `kv-mvcc-${tag}-`));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Opens a backend of the engine in a fresh directory; returns it with its path. */
export async function freshBackend(engine: EngineName): Promise<{ backend: Backend; path: string }> {
  const path = await tempDir(engine);
  return { backend: await openBackend({ engine, path }), path };
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
