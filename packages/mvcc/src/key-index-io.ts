/**
 * The saved key index on disk (key-index-file.ts has the format). Both operations keep one rule: a file
 * exists only while it describes the backend exactly, which is from a clean close until the next open.
 *
 * - {@link saveKeyIndexFile}: written under a temporary name, fsynced, renamed into place and the
 *   directory fsynced, so a crash leaves either no file or the whole file (never a torn one under the
 *   real name; a leftover temporary is overwritten by the next save).
 * - {@link takeKeyIndexFile}: reads the file and removes it (directory fsynced) before the store accepts
 *   a write, so a later crash can never find an image older than the backend. Why not keep it and
 *   compare: nothing cheap proves that a backend changed since the image was taken, except its
 *   consistent index and last revision, which the store checks as well.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `bytes` as the file at `path`, atomically and durably.
 * @example
 * await saveKeyIndexFile('/data/member/snap/db/kv-key-index', encodeKeyIndexImage(image));
 */
export async function saveKeyIndexFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/**
 * Reads and removes the file at `path`; undefined if there is none. The removal is durable when this
 * resolves.
 * @example
 * const bytes = await takeKeyIndexFile(path); // undefined after a crash or on a first start
 */
export async function takeKeyIndexFile(path: string): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  await removeKeyIndexFile(path);
  return bytes;
}

/** Removes the file at `path` if it exists (durably). */
export async function removeKeyIndexFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await fsyncDir(dirname(path));
}
