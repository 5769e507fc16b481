/**
 * Writes waiting for (or in) a backend commit, readable before they reach the engine — etcd's
 * txWriteBuffer/txReadBuffer. The store fills one buffer at a time; a commit seals it and starts a new
 * one. Readers capture the buffers alive when they start, so a write stays visible to them whether or not
 * its commit has finished.
 */

import type { WriteBatch } from './backend/types.js';
import { bytesToKey } from './btree.js';
import { revId } from './key-index.js';
import { revKeyScratch } from './revision.js';

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
  /**
   * Key-bucket entries in the order written (ascending revision), as parallel arrays rather than one
   * object per entry: they live until the backend commit, so a young collection usually finds them.
   * An entry's value is its `kvs` entry.
   */
  private readonly mains: number[] = [];
  private readonly subs: number[] = [];
  private readonly tombstones: boolean[] = [];
  /** `bucket \0 latin1(key)` -> value, or null for a delete. */
  readonly meta = new Map<string, Uint8Array | null>();

  constructor(readonly batch: WriteBatch) {}

  get length(): number {
    return this.batch.length;
  }

  /** Number of key-bucket entries. */
  get historyLength(): number {
    return this.mains.length;
  }

  /** Key-bucket entry `i` (0-based, in revision order). */
  historyEntry(i: number): HistoryEntry {
    const main = this.mains[i]!;
    const sub = this.subs[i]!;
    return { main, sub, tombstone: this.tombstones[i]!, value: this.kvs.get(revId(main, sub))! };
  }

  /** Main revision of key-bucket entry `i`. */
  historyMain(i: number): number {
    return this.mains[i]!;
  }

  /** A point to roll back to: the batch and history lengths now. */
  mark(): { ops: number; history: number } {
    return { ops: this.batch.length, history: this.mains.length };
  }

  /** Forgets the revisions written since `mark` (a write transaction failed halfway). */
  rollback(mark: { ops: number; history: number }): void {
    for (let i = mark.history; i < this.mains.length; i++)
      this.kvs.delete(revId(this.mains[i]!, this.subs[i]!));
    this.mains.length = mark.history;
    this.subs.length = mark.history;
    this.tombstones.length = mark.history;
    this.batch.truncate(mark.ops);
  }

  putRevision(main: number, sub: number, tombstone: boolean, value: Uint8Array): void {
    this.kvs.set(revId(main, sub), value);
    this.mains.push(main);
    this.subs.push(sub);
    this.tombstones.push(tombstone);
    this.batch.put(KEY_BUCKET, revKeyScratch(main, sub, tombstone), value);
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
