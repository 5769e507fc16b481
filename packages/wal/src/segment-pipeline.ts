/**
 * etcd's file pipeline: the next segment file is created and preallocated in the background, so a
 * segment cut only writes the new segment's header batch. Without it the save that triggered a cut
 * also zero-filled and synced a whole segment (measured on this VM: a 64 MiB cut stalled that save
 * 114-181 ms, and every write behind it; packages/wal/README.md "Segment cuts").
 *
 * One prepared file at a time, named {@link PREPARED_SEGMENT_NAME} in the WAL directory. It holds only
 * zeros until a cut writes a header into it and renames it into place; `Wal.open` deletes a leftover
 * one like any other `*.wal.tmp`.
 */
import { join } from 'node:path';
import type { WalFile } from './fs-layer.js';
import { io, preallocate, type ResolvedOptions } from './segment-io.js';

/** The prepared segment's file name (ends in `.wal.tmp`, so an open after a crash removes it). */
export const PREPARED_SEGMENT_NAME = 'prepared.wal.tmp';

/** Thrown inside a preparation that close() stopped (not a failure worth logging). */
const CLOSING = new Error('wal: closing');

/** A preallocated, synced, still unnamed segment file. */
export interface PreparedSegment {
  file: WalFile;
  path: string;
  /** File length (the preallocated space). */
  size: number;
}

/**
 * Prepares segment files ahead of cuts.
 *
 * @example
 * ```ts
 * const pipeline = new SegmentPipeline(dir, opts);
 * pipeline.prepare(); // when the tail is half full
 * const next = await pipeline.take(); // at the cut; undefined: create the file inline
 * ```
 */
export class SegmentPipeline {
  private pending: Promise<PreparedSegment | undefined> | undefined;
  /** Set by close: a preparation under way stops at its next chunk instead of finishing. */
  private closing = false;

  constructor(
    private readonly dir: string,
    private readonly opts: ResolvedOptions,
  ) {}

  /** Starts preparing the next segment unless one is ready or under way. */
  prepare(): void {
    if (this.pending) return;
    const path = join(this.dir, PREPARED_SEGMENT_NAME);
    this.pending = this.build(path).catch((err: unknown) => {
      // Not fatal: the cut then creates the file itself and reports a lasting failure there.
      if (err !== CLOSING) {
        this.opts.logger('warn', 'wal: preparing the next segment failed', {
          file: path,
          error: String(err),
        });
      }
      return undefined;
    });
  }

  /**
   * Hands over the prepared segment, waiting for one under way; undefined when none was started or
   * its preparation failed. The caller owns the file afterwards.
   */
  take(): Promise<PreparedSegment | undefined> {
    const pending = this.pending;
    this.pending = undefined;
    return pending ?? Promise.resolve(undefined);
  }

  /** Stops a preparation under way (or waits for its current chunk), then deletes the prepared file. */
  async close(): Promise<void> {
    this.closing = true;
    const prepared = await this.take();
    if (!prepared) return;
    await prepared.file.close().catch(() => {});
    await this.opts.fs.unlink(prepared.path).catch(() => {});
  }

  private async build(path: string): Promise<PreparedSegment> {
    const fs = this.opts.fs;
    if (await fs.exists(path)) await io('unlink', path, () => fs.unlink(path));
    const file = await io('create', path, () => fs.open(path, 'wx+'));
    try {
      // Zeros synced a chunk at a time: the blocks are allocated on disk before appends land in them
      // (as with an inline cut), and the WAL's own fdatasyncs meanwhile never wait behind a whole
      // segment of dirty zeros (ext4 flushes other files' pending data in a journal commit).
      const size = await preallocate(file, path, this.opts, 0, async () => {
        if (!this.opts.noSync) await io('fdatasync', path, () => file.datasync());
        if (this.closing) throw CLOSING;
      });
      return { file, path, size };
    } catch (err) {
      await file.close().catch(() => {});
      await fs.unlink(path).catch(() => {});
      throw err;
    }
  }
}
