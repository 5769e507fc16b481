import { mkdir } from 'node:fs/promises';
import { LevelBackend } from './level.js';
import { LmdbBackend } from './lmdb.js';
import { MemoryBackend } from './memory.js';
import type { Backend, BackendOptions } from './types.js';

/** Opens a storage engine by name (default `level`). On-disk engines need `path`. */
export async function openBackend(opts: BackendOptions = {}): Promise<Backend> {
  const engine = opts.engine ?? 'level';
  if (engine === 'memory') return new MemoryBackend();
  if (!opts.path) throw new Error(`backend: engine ${engine} needs a path`);
  await mkdir(opts.path, { recursive: true });
  if (engine === 'level') return LevelBackend.open(opts.path, opts.sync ?? false);
  if (engine === 'lmdb')
    return LmdbBackend.open(opts.path, opts.sync ?? false, opts.mapSize ?? 8 * 1024 ** 3);
  throw new Error(`backend: unknown engine ${String(engine)}`);
}
