/**
 * Messages between {@link readForOpenInWorker} and its worker (open-read-worker.ts), and how entries
 * and errors cross the thread boundary: entries as one data buffer plus one number array (transferred,
 * not copied), errors as their class name and constructor arguments, rebuilt as the same WAL error
 * classes an in-thread open throws.
 */
import {
  CrcMismatchError,
  SnapshotMismatchError,
  SnapshotNotFoundError,
  WalCorruptionError,
  WalError,
  WalIOError,
  WalNotFoundError,
} from './errors.js';
import type { LastSegment } from './open-read.js';
import type { SegmentName } from './segment-name.js';
import type { WalEntry, WalHardState, WalSnapshotMarker } from './types.js';

/** The worker's `workerData`: the WAL's segments, and the marker unless the opener chooses it. */
export interface WorkerJob {
  dir: string;
  segments: SegmentName[];
  marker?: WalSnapshotMarker;
}

/** Entries packed for transfer: `fields` holds index, term, type and data length per entry. */
export interface PackedEntries {
  count: number;
  fields: Float64Array;
  data: Uint8Array;
}

export type FromWorker =
  | { kind: 'markers'; available: WalSnapshotMarker[]; committed: number }
  | {
      kind: 'done';
      marker: WalSnapshotMarker;
      metadata: Uint8Array;
      hardState: WalHardState;
      entries: PackedEntries;
      lastIndex: number;
      savedState: WalHardState | undefined;
      last: LastSegment;
    }
  | { kind: 'error'; error: EncodedError };

export type ToWorker = { marker: WalSnapshotMarker };

const FIELDS = 4;

export function packEntries(entries: readonly WalEntry[]): PackedEntries {
  let total = 0;
  for (const e of entries) total += e.data.length;
  const data = new Uint8Array(total);
  const fields = new Float64Array(entries.length * FIELDS);
  let off = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    fields[i * FIELDS] = e.index;
    fields[i * FIELDS + 1] = e.term;
    fields[i * FIELDS + 2] = e.type;
    fields[i * FIELDS + 3] = e.data.length;
    data.set(e.data, off);
    off += e.data.length;
  }
  return { count: entries.length, fields, data };
}

/** The entries back, each `data` a view into the one transferred buffer. */
export function unpackEntries(p: PackedEntries): WalEntry[] {
  const out: WalEntry[] = new Array(p.count);
  const f = p.fields;
  let off = 0;
  for (let i = 0; i < p.count; i++) {
    const len = f[i * FIELDS + 3]!;
    out[i] = {
      index: f[i * FIELDS]!,
      term: f[i * FIELDS + 1]!,
      type: f[i * FIELDS + 2]!,
      data: p.data.subarray(off, off + len),
    };
    off += len;
  }
  return out;
}

export interface EncodedError {
  name: string;
  message: string;
  args?: (string | number | undefined)[];
}

export function encodeError(err: unknown): EncodedError {
  const e = err as Error;
  if (err instanceof CrcMismatchError)
    return { name: e.name, message: e.message, args: [err.file, err.offset, err.expected, err.actual] };
  if (err instanceof WalCorruptionError)
    return { name: e.name, message: e.message, args: [err.file, err.offset, err.reason] };
  if (err instanceof WalIOError) {
    const cause = err.cause as Error | undefined;
    return {
      name: e.name,
      message: e.message,
      args: [err.op, err.path, cause?.message ?? String(cause), err.code],
    };
  }
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
}

/** The error an in-thread open would have thrown. */
export function decodeError(e: EncodedError): Error {
  const a = e.args ?? [];
  switch (e.name) {
    case 'CrcMismatchError':
      return new CrcMismatchError(a[0] as string, a[1] as number, a[2] as number, a[3] as number);
    case 'WalCorruptionError':
      return new WalCorruptionError(a[0] as string, a[1] as number, a[2] as string);
    case 'WalIOError': {
      const cause = Object.assign(new Error(a[2] as string), a[3] === undefined ? {} : { code: a[3] });
      return new WalIOError(a[0] as string, a[1] as string, cause);
    }
    case 'SnapshotNotFoundError':
      return new SnapshotNotFoundError(e.message);
    case 'SnapshotMismatchError':
      return new SnapshotMismatchError(e.message);
    case 'WalNotFoundError':
      return new WalNotFoundError(e.message);
    default:
      return new WalError(`wal: reading segments on a worker thread failed: ${e.message}`);
  }
}
