/**
 * Writes waiting for (or in) a backend commit, readable before they reach the engine — etcd's
 * txWriteBuffer/txReadBuffer. The store fills one buffer at a time; a commit seals it and starts a new
 * one. Readers capture the buffers alive when they start, so a write stays visible to them whether or not
 * its commit has finished.
 */

import type { WriteBatch } from './backend/types.js';
import { bytesToKey } from './btree.js';
import { revId } from './key-index.js';
import { revToBytes } from './revision.js';

export const KEY_BUCKET = 'key';
export const META_BUCKET = 'meta';

/** One key-bucket entry in revision order. */
export interface HistoryEntry {
  main: number;
  sub: number;
  tombstone: boolean;
  /** Encoded mvccpb.KeyValue. */
  value: Uint8Array;
}

export class WriteBuffer {
  /** revId -> encoded KeyValue, for point reads by revision. */
  readonly kvs = new Map<string, Uint8Array>();
  /** Key-bucket entries in the order written (ascending revision). */
  readonly history: HistoryEntry[] = [];
  /** `bucket \0 latin1(key)` -> value, or null for a delete. */
  readonly meta = new Map<string, Uint8Array | null>();

  constructor(readonly batch: WriteBatch) {}

  get length(): number {
    return this.batch.length;
  }

  /** A point to roll back to: the batch and history lengths now. */
  mark(): { ops: number; history: number } {
    return { ops: this.batch.length, history: this.history.length };
  }

  /** Forgets the revisions written since `mark` (a write transaction failed halfway). */
  rollback(mark: { ops: number; history: number }): void {
    for (const e of this.history.splice(mark.history)) this.kvs.delete(revId(e.main, e.sub));
    this.batch.truncate(mark.ops);
  }

  putRevision(main: number, sub: number, tombstone: boolean, value: Uint8Array): void {
    this.kvs.set(revId(main, sub), value);
    this.history.push({ main, sub, tombstone, value });
    this.batch.put(KEY_BUCKET, revToBytes(main, sub, tombstone), value);
  }

  /** Physical removal of a compacted revision (not readable afterwards by new readers). */
  deleteRevision(key: Uint8Array): void {
    this.batch.delete(KEY_BUCKET, key);
  }

  putMeta(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.meta.set(metaId(bucket, key), value);
    this.batch.put(bucket, key, value);
  }

  deleteMeta(bucket: string, key: Uint8Array): void {
    this.meta.set(metaId(bucket, key), null);
    this.batch.delete(bucket, key);
  }
}

export function metaId(bucket: string, key: Uint8Array): string {
  return `${bucket}\0${bytesToKey(key)}`;
}
