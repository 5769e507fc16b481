/**
 * Reader of LevelDB's log format (doc/log_format.md), in which the MANIFEST is written: 32 KiB blocks of
 * physical records, each `masked crc32c (4) | length (2) | type (1) | data`. A logical record is one
 * FULL record or a FIRST, any MIDDLEs and a LAST. A block's last < 7 bytes are zero padding.
 */
import { fixed32, maskedCrc32c } from './coding.js';
import { LevelDbFileError } from './errors.js';

const BLOCK = 32 * 1024;
const HEADER = 7;
const ZERO = 0;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

/** The logical records of a log file, and whether its tail was torn. */
export interface LogRecords {
  records: Uint8Array[];
  /**
   * True when the file ends inside a record (a header, a payload or a fragmented record cut short):
   * the writer crashed, or is appending right now. LevelDB reads that as the end of the log, and so
   * does this reader.
   */
  torn: boolean;
}

/**
 * Every whole record of the log in `bytes` (the file's contents). A checksum mismatch or a fragment out
 * of order before the tail is a {@link LevelDbFileError}: the manifest is the list of live files, and
 * skipping a damaged edit could resurrect deleted tables or lose new ones.
 *
 * @example
 * ```ts
 * const { records } = readLogRecords(await readFile(join(dir, 'MANIFEST-000004')), 'MANIFEST-000004');
 * ```
 */
export function readLogRecords(bytes: Uint8Array, file: string): LogRecords {
  const records: Uint8Array[] = [];
  let fragments: Uint8Array[] | undefined;
  let pos = 0;
  while (pos < bytes.length) {
    const blockEnd = Math.min(bytes.length, (Math.floor(pos / BLOCK) + 1) * BLOCK);
    if (blockEnd - pos < HEADER) {
      // Trailer padding of a whole block, or a header cut short at the end of the file.
      if (blockEnd === bytes.length && blockEnd % BLOCK !== 0) return { records, torn: true };
      pos = blockEnd;
      continue;
    }
    const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
    const type = bytes[pos + 6]!;
    if (pos + HEADER + length > blockEnd) {
      // A record never crosses a block; one that seems to is cut short at the end of the file.
      if (blockEnd === bytes.length) return { records, torn: true };
      throw new LevelDbFileError(
        file,
        'format',
        `record length ${length} at offset ${pos} crosses its block`,
      );
    }
    if (type === ZERO && length === 0) {
      // Preallocated space (LevelDB's mmap writer): its reader skips the rest of the block.
      pos = blockEnd;
      continue;
    }
    const data = bytes.subarray(pos + HEADER, pos + HEADER + length);
    if (maskedCrc32c(bytes.subarray(pos + 6, pos + 7), data) !== fixed32(bytes, pos)) {
      throw new LevelDbFileError(file, 'checksum', `log record at offset ${pos}`);
    }
    pos += HEADER + length;
    if (type === FULL && fragments === undefined) records.push(data);
    else if (type === FIRST && fragments === undefined) fragments = [data];
    else if (type === MIDDLE && fragments !== undefined) fragments.push(data);
    else if (type === LAST && fragments !== undefined) {
      fragments.push(data);
      records.push(Buffer.concat(fragments));
      fragments = undefined;
    } else {
      throw new LevelDbFileError(file, 'format', `log record type ${type} out of order at offset ${pos}`);
    }
  }
  return { records, torn: fragments !== undefined };
}
