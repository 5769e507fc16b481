/**
 * What opening a WAL reads: every segment from the one holding the snapshot marker on, scanned and
 * checked (decoder.ts), with raft's replay rules applied to the records. Shared by the in-thread open
 * and the worker-thread one (open-read-worker.ts), which run the same functions on the same bytes.
 */
import { join } from 'node:path';
import { dirtyEnd, type SegmentScan, scanSegment } from './decoder.js';
import {
  SnapshotMismatchError,
  SnapshotNotFoundError,
  WalCorruptionError,
  WalNotFoundError,
} from './errors.js';
import type { WalFileSystem } from './fs-layer.js';
import { decodeEntry, RecordType } from './record.js';
import { io } from './segment-io.js';
import { type SegmentName, searchIndex } from './segment-name.js';
import type { WalContents, WalEntry, WalHardState, WalSnapshotMarker } from './types.js';

const EMPTY_STATE: WalHardState = { term: 0, vote: 0n, commit: 0 };

/** The snapshot marker to open at, or a function that picks it from every marker the WAL holds. */
export type MarkerChoice =
  | WalSnapshotMarker
  | ((available: WalSnapshotMarker[], committed: number) => Promise<WalSnapshotMarker>);

/** Where the newest segment's valid records end, and what follows them. */
export interface LastSegment {
  /** Offset just after the last complete batch: where appending continues. */
  validEnd: number;
  /** Chain CRC at `validEnd`. */
  crc: number;
  /** Set when an incomplete or torn last batch was dropped. */
  torn?: { offset: number; reason: string };
  /** With `torn`: offset just past the last non-zero byte after `validEnd` (what a repair clears). */
  dirtyEnd: number;
  /** File length (preallocated space included). */
  size: number;
}

/** What {@link readForOpen} found. */
export interface OpenRead {
  marker: WalSnapshotMarker;
  contents: WalContents;
  /** Index of the last entry record read (before the marker too). */
  lastIndex: number;
  /** The newest hard state record, if any. */
  savedState: WalHardState | undefined;
  last: LastSegment;
}

/**
 * Reads and checks the segments an open needs, on this thread. Entry data in the result are views into
 * the buffers the segments were read into.
 */
export async function readForOpen(
  fs: WalFileSystem,
  dir: string,
  segments: SegmentName[],
  choice: MarkerChoice,
): Promise<OpenRead> {
  let marker: WalSnapshotMarker;
  let read: { scans: SegmentScan[]; lastBuffer: Uint8Array };
  let from: number;
  if (typeof choice === 'function') {
    const all = await readSegments(fs, dir, segments);
    marker = await choice(markersOf(all.scans), lastCommitOf(all.scans));
    from = segmentFor(dir, segments, marker);
    read = { scans: all.scans.slice(from), lastBuffer: all.lastBuffer };
  } else {
    marker = choice;
    from = segmentFor(dir, segments, marker);
    read = await readSegments(fs, dir, segments.slice(from));
  }
  return { marker, ...collect(read.scans, segments.slice(from), marker), last: lastSegment(read) };
}

/** The position in `segments` of the segment holding `marker`. */
function segmentFor(dir: string, segments: SegmentName[], marker: WalSnapshotMarker): number {
  const from = searchIndex(segments, marker.index);
  if (from < 0) throw new WalNotFoundError(`wal: no segment covers index ${marker.index} in ${dir}`);
  return from;
}

/** The newest segment's end state, from its scan and bytes. */
function lastSegment(read: { scans: SegmentScan[]; lastBuffer: Uint8Array }): LastSegment {
  const last = read.scans[read.scans.length - 1]!;
  return {
    validEnd: last.validEnd,
    crc: last.crc,
    ...(last.torn ? { torn: { offset: last.torn.offset, reason: last.torn.reason } } : {}),
    dirtyEnd: last.torn ? dirtyEnd(read.lastBuffer, last.validEnd) : last.validEnd,
    size: read.lastBuffer.length,
  };
}

export async function readSegments(
  fs: WalFileSystem,
  dir: string,
  segments: SegmentName[],
): Promise<{ scans: SegmentScan[]; lastBuffer: Uint8Array }> {
  const scans: SegmentScan[] = [];
  let chain: number | undefined;
  let buf: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < segments.length; i++) {
    const path = join(dir, segments[i]!.name);
    buf = await io('read', path, () => fs.readFile(path));
    const scan = scanSegment(buf, path, chain, i === segments.length - 1);
    chain = scan.crc;
    scans.push(scan);
  }
  return { scans, lastBuffer: buf };
}

/** Every snapshot marker in scanned segments, oldest first. */
export function markersOf(scans: SegmentScan[]): WalSnapshotMarker[] {
  const out: WalSnapshotMarker[] = [];
  for (const scan of scans) {
    for (const r of scan.records) if (r.type === RecordType.snapshot) out.push(r.snapshot);
  }
  return out;
}

/** The commit index of the newest hard state record (0 when there is none). */
function lastCommitOf(scans: SegmentScan[]): number {
  let commit = 0;
  for (const scan of scans) {
    for (const r of scan.records) if (r.type === RecordType.state) commit = r.state.commit;
  }
  return commit;
}

/** Applies raft's replay rules to decoded records. */
function collect(
  scans: SegmentScan[],
  segments: SegmentName[],
  marker: WalSnapshotMarker,
): { contents: WalContents; lastIndex: number; savedState: WalHardState | undefined } {
  let metadata: Uint8Array | undefined;
  let state: WalHardState | undefined;
  const entries: WalEntry[] = [];
  let lastIndex = 0;
  let matched = false;
  for (let s = 0; s < scans.length; s++) {
    const file = segments[s]!.name;
    for (const r of scans[s]!.records) {
      switch (r.type) {
        case RecordType.metadata:
          if (metadata && !sameBytes(metadata, r.metadata)) {
            throw new WalCorruptionError(file, r.offset, 'metadata differs from earlier segments');
          }
          metadata = r.metadata;
          break;
        case RecordType.entry: {
          const index = r.index;
          if (index > marker.index) {
            const up = index - marker.index - 1;
            if (up > entries.length) {
              throw new WalCorruptionError(
                file,
                r.offset,
                `entry ${index} leaves a gap after ${entries.length + marker.index}`,
              );
            }
            entries.length = up;
            // Data as a view into the segment buffer; detachEntryData below copies the kept ones.
            entries.push(decodeEntry(r.buf, r.start, r.end, false));
          }
          lastIndex = index;
          break;
        }
        case RecordType.state:
          state = r.state;
          break;
        case RecordType.snapshot:
          if (r.snapshot.index === marker.index) {
            if (r.snapshot.term !== marker.term) {
              throw new SnapshotMismatchError(
                `wal: snapshot marker at index ${marker.index} has term ${r.snapshot.term}, not ${marker.term}`,
              );
            }
            matched = true;
          }
          break;
      }
    }
  }
  if (!matched)
    throw new SnapshotNotFoundError(`wal: no snapshot marker at index ${marker.index} term ${marker.term}`);
  // Entry data stays a view into the segment buffers: readAll() copies it, takeAll() hands it over.
  return {
    contents: { metadata: metadata ?? new Uint8Array(0), hardState: state ?? { ...EMPTY_STATE }, entries },
    lastIndex,
    savedState: state,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
