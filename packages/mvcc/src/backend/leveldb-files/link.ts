/**
 * A private, stable copy of a LevelDB directory's live tables: hard links in a subdirectory, so the
 * tables outlive LevelDB's background compaction (which deletes the tables it replaces) for as long as
 * a bulk read needs them, at no copy cost. LevelDB ignores the subdirectory: it lists its directory
 * only for names it parses as its own (db/filename.cc: CURRENT, LOCK, LOG*, MANIFEST-*, *.log, *.ldb,
 * *.sst, *.dbtmp), at open and when deleting obsolete files.
 */
import { link, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LevelDbFileError } from './errors.js';
import { type LiveFiles, readLiveFiles, tableFileName } from './manifest.js';

/** Name prefix of the link directories inside a LevelDB directory. */
export const BULK_DIR_PREFIX = 'bulk-read-';
/** Manifest re-reads after a table vanished between reading the manifest and linking it. */
const MAX_ATTEMPTS = 20;

/**
 * Hard-links every live table of `dbDir` into `target` (created), named `NNNNNN.ldb` there whatever
 * their name in `dbDir` (LevelDB still reads tables named `.sst` by old versions). A table that vanishes
 * before its link (compaction replaced it) sends it back to the manifest, which by then lists the
 * replacement. Returns the file set whose tables are all linked.
 *
 * @example
 * ```ts
 * const live = await linkLiveTables(dbDir, join(dbDir, 'bulk-read-1'));
 * ```
 */
export async function linkLiveTables(dbDir: string, target: string): Promise<LiveFiles> {
  await mkdir(target, { recursive: true });
  const linked = new Set<number>();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const live = await readLiveFiles(dbDir);
    let complete = true;
    for (const file of live.levels.flat()) {
      if (linked.has(file.number)) continue;
      if (!(await linkTable(dbDir, target, file.number))) {
        complete = false;
        break;
      }
      linked.add(file.number);
    }
    if (complete) return live;
  }
  throw new LevelDbFileError(
    dbDir,
    'format',
    `live tables kept vanishing over ${MAX_ATTEMPTS} manifest reads`,
  );
}

/** Links table `number` as `.ldb`, then as legacy `.sst`; false when neither exists. */
async function linkTable(dbDir: string, target: string, number: number): Promise<boolean> {
  for (const legacy of [false, true]) {
    try {
      await link(join(dbDir, tableFileName(number, legacy)), join(target, tableFileName(number)));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return true;
      if (code !== 'ENOENT') throw err;
    }
  }
  return false;
}

/** Removes link directories left in `dbDir` by a process that died during a bulk read. */
export async function removeBulkDirs(dbDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dbDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    if (name.startsWith(BULK_DIR_PREFIX)) await rm(join(dbDir, name), { recursive: true, force: true });
  }
}
