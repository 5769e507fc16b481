import { mkdir } from 'node:fs/promises';
import { MemoryBackend } from './memory.js';
import { type Backend, type BackendOptions, DEFAULT_LEVEL_MAX_OPEN_FILES } from './types.js';

/**
 * Opens a storage engine by name (default `level`). On-disk engines need `path`.
 * Each engine's module (and its native addon) is loaded only when that engine is opened: with the level
 * engine, loading LMDB's modules (lmdb, msgpackr) took ~0.15 s of a server start in a --cpu-prof of a
 * restart on the loaded test machine (docs/benchmarks.md "Memory and restart").
 */
export async function openBackend(opts: BackendOptions = {}): Promise<Backend> {
  const engine = opts.engine ?? 'level';
  if (engine === 'memory') return new MemoryBackend();
  if (!opts.path) throw new Error(`backend: engine ${engine} needs a path`);
  await mkdir(opts.path, { recursive: true });
  if (engine === 'level') {
    const { LevelBackend } = await import('./level.js');
    return LevelBackend.open(
      opts.path,
      opts.sync ?? false,
      opts.maxOpenFiles ?? DEFAULT_LEVEL_MAX_OPEN_FILES,
    );
  }
  if (engine === 'lmdb') {
    const { LmdbBackend } = await import('./lmdb.js');
    return LmdbBackend.open(opts.path, opts.sync ?? false, opts.mapSize ?? 8 * 1024 ** 3);
  }
  throw new Error(`backend: unknown engine ${String(engine)}`);
}
