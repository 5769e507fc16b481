/**
 * File helpers shared by the WAL and its segment pipeline: error wrapping, whole writes and
 * preallocation. Every failure surfaces as a {@link WalIOError} naming the operation and the path.
 */
import { ZERO_CHUNK } from './decoder.js';
import { WalError, WalIOError } from './errors.js';
import type { WalFile, WalFileSystem } from './fs-layer.js';
import type { WalLogger } from './types.js';

/** {@link WalOptions} with defaults applied. */
export interface ResolvedOptions {
  segmentSize: number;
  preallocate: 'zero' | 'truncate';
  noSync: boolean;
  fs: WalFileSystem;
  logger: WalLogger;
  readInWorker: boolean;
}

/** Runs `fn`, turning a non-WAL error into a {@link WalIOError} for `op` on `path`. */
export async function io<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WalError) throw err;
    throw new WalIOError(op, path, err);
  }
}

/** Writes all of `bytes` at `position`, continuing after short writes; no progress is an error. */
export async function writeFully(
  file: WalFile,
  path: string,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = await io('write', path, () => file.write(bytes, done, bytes.length - done, position + done));
    if (n <= 0) {
      throw new WalIOError('write', path, new Error(`short write: ${done} of ${bytes.length} bytes`));
    }
    done += n;
  }
}

/**
 * Reserves a segment's space (at least `minimum` bytes); returns the file size afterwards.
 * @param afterChunk with zero-filling, runs after each chunk of zeros is written (the segment pipeline
 *   syncs there and stops there when the WAL closes)
 */
export async function preallocate(
  file: WalFile,
  path: string,
  opts: ResolvedOptions,
  minimum: number,
  afterChunk?: () => Promise<void>,
): Promise<number> {
  const size = Math.max(opts.segmentSize, minimum);
  if (opts.preallocate === 'truncate') {
    await io('truncate', path, () => file.truncate(size));
    return size;
  }
  for (let p = 0; p < size; p += ZERO_CHUNK.length) {
    await writeFully(file, path, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, size - p)), p);
    await afterChunk?.();
  }
  return size;
}
