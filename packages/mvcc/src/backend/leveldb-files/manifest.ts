/**
 * The live table set of a LevelDB directory: `CURRENT` names the MANIFEST, a log (log.ts) of
 * VersionEdit records (db/version_edit.cc); replaying them in order gives the files of each level.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader, ShortInputError } from './coding.js';
import { LevelDbFileError } from './errors.js';
import { compareInternalKeys } from './internal-key.js';
import { readLogRecords } from './log.js';

/** LevelDB's number of levels (config::kNumLevels). */
export const NUM_LEVELS = 7;
/** The only comparator these readers order keys by; any other is refused. */
export const BYTEWISE_COMPARATOR = 'leveldb.BytewiseComparator';

// VersionEdit tags (db/version_edit.cc). 8 was once "large value refs" and is never written.
const COMPARATOR = 1;
const LOG_NUMBER = 2;
const NEXT_FILE_NUMBER = 3;
const LAST_SEQUENCE = 4;
const COMPACT_POINTER = 5;
const DELETED_FILE = 6;
const NEW_FILE = 7;
const PREV_LOG_NUMBER = 9;

/** One table of a level, as its NEW_FILE record describes it. */
export interface TableFile {
  level: number;
  /** File number: the table is `<number>.ldb` (or the legacy `<number>.sst`), six digits at least. */
  number: number;
  size: number;
  /** Smallest and largest internal keys in the table (user key + 8-byte trailer). */
  smallest: Uint8Array;
  largest: Uint8Array;
}

/** The fields of one VersionEdit record that the readers use; the others are parsed and dropped. */
export interface VersionEdit {
  comparator?: string;
  logNumber?: number;
  prevLogNumber?: number;
  deleted: Array<{ level: number; number: number }>;
  added: TableFile[];
}

/** The live files after replaying a manifest. */
export interface LiveFiles {
  /** The newest log number: writes not yet in tables are in `<logNumber>.log` and later logs. */
  logNumber: number;
  /** Tables per level: level 0 newest first (by file number), levels 1+ by smallest key. */
  levels: TableFile[][];
  /** The manifest's tail was cut short (a crash, or LevelDB appending an edit while we read). */
  torn: boolean;
}

/**
 * Decodes one VersionEdit record. Unknown tags are a format error, as in LevelDB: guessing their
 * length would misread the rest of the record.
 */
export function decodeVersionEdit(record: Uint8Array, file: string): VersionEdit {
  const r = new ByteReader(record);
  const edit: VersionEdit = { deleted: [], added: [] };
  const level = () => {
    const v = r.varint();
    if (v >= NUM_LEVELS) throw new LevelDbFileError(file, 'format', `level ${v} in a version edit`);
    return v;
  };
  try {
    while (!r.atEnd) {
      const tag = r.varint();
      switch (tag) {
        case COMPARATOR:
          edit.comparator = Buffer.from(r.lengthPrefixed()).toString('latin1');
          break;
        case LOG_NUMBER:
          edit.logNumber = r.varint();
          break;
        case PREV_LOG_NUMBER:
          edit.prevLogNumber = r.varint();
          break;
        case NEXT_FILE_NUMBER:
        case LAST_SEQUENCE:
          r.varint();
          break;
        case COMPACT_POINTER:
          level();
          r.lengthPrefixed();
          break;
        case DELETED_FILE:
          edit.deleted.push({ level: level(), number: r.varint() });
          break;
        case NEW_FILE: {
          const lv = level();
          const number = r.varint();
          const size = r.varint();
          const smallest = r.lengthPrefixed().slice();
          const largest = r.lengthPrefixed().slice();
          if (smallest.length < 8 || largest.length < 8)
            throw new LevelDbFileError(file, 'format', `table ${number}: key shorter than its trailer`);
          edit.added.push({ level: lv, number, size, smallest, largest });
          break;
        }
        default:
          throw new LevelDbFileError(file, 'format', `unknown version edit tag ${tag}`);
      }
    }
  } catch (err) {
    if (err instanceof ShortInputError)
      throw new LevelDbFileError(file, 'format', `version edit: ${err.message}`);
    throw err;
  }
  return edit;
}

/**
 * Replays version edits as LevelDB's VersionSet::Builder does: within an edit, deletions first, then
 * additions.
 */
export function replayEdits(edits: Iterable<VersionEdit>, file: string): Omit<LiveFiles, 'torn'> {
  const levels = Array.from({ length: NUM_LEVELS }, () => new Map<number, TableFile>());
  let logNumber = 0;
  let comparator: string | undefined;
  for (const edit of edits) {
    if (edit.comparator !== undefined) comparator = edit.comparator;
    if (edit.logNumber !== undefined) logNumber = edit.logNumber;
    for (const d of edit.deleted) levels[d.level]!.delete(d.number);
    for (const a of edit.added) levels[a.level]!.set(a.number, a);
  }
  if (comparator !== undefined && comparator !== BYTEWISE_COMPARATOR)
    throw new LevelDbFileError(file, 'format', `comparator ${comparator}, not ${BYTEWISE_COMPARATOR}`);
  return {
    logNumber,
    levels: levels.map((m, level) =>
      level === 0
        ? [...m.values()].sort((a, b) => b.number - a.number)
        : [...m.values()].sort((a, b) => compareInternalKeys(a.smallest, b.smallest)),
    ),
  };
}

/**
 * Reads `CURRENT` and the MANIFEST it names in `dir`, and returns the live files.
 *
 * @example
 * ```ts
 * const live = await readLiveFiles('/var/lib/kv/member/backend');
 * console.log(live.levels.map((l) => l.length)); // tables per level
 * ```
 */
export async function readLiveFiles(dir: string): Promise<LiveFiles> {
  const current = (await readFile(join(dir, 'CURRENT'), 'latin1')).trimEnd();
  if (!/^MANIFEST-\d+$/.test(current))
    throw new LevelDbFileError(join(dir, 'CURRENT'), 'format', `names ${JSON.stringify(current)}`);
  const path = join(dir, current);
  const { records, torn } = readLogRecords(await readFile(path), path);
  return {
    ...replayEdits(
      records.map((r) => decodeVersionEdit(r, path)),
      path,
    ),
    torn,
  };
}

/** The file name LevelDB gives table `number` (db/filename.cc), or its legacy `.sst` name. */
export function tableFileName(number: number, legacy = false): string {
  return `${String(number).padStart(6, '0')}.${legacy ? 'sst' : 'ldb'}`;
}

/** The file name of LevelDB's write-ahead log `number` (db/filename.cc). */
export function logFileName(number: number): string {
  return `${String(number).padStart(6, '0')}.log`;
}
