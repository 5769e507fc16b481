/** The typed error of the LevelDB file readers. */
import { MvccError } from '../../errors.js';

/** What is wrong with a LevelDB file: a checksum mismatch, or bytes that are not the documented format. */
export type LevelDbFileProblem = 'checksum' | 'format';

/**
 * A LevelDB file (CURRENT, MANIFEST, table) that cannot be read as LevelDB wrote it. Raised, never
 * skipped: a bulk read that left out a damaged block would hand out a database with keys missing.
 *
 * @example
 * ```ts
 * try { await scan(); } catch (err) { if (err instanceof LevelDbFileError && err.problem === 'checksum') alarm(err.file); }
 * ```
 */
export class LevelDbFileError extends MvccError {
  constructor(
    /** The file that failed. */
    readonly file: string,
    readonly problem: LevelDbFileProblem,
    detail: string,
  ) {
    super(`leveldb ${problem === 'checksum' ? 'checksum mismatch' : 'bad file'}: ${file}: ${detail}`);
  }
}
