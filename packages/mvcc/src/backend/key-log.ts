import type { RawOp } from './base.js';

/** First buffer size of a log; it doubles as keys arrive. */
const INITIAL_BYTES = 4096;

/**
 * The physical keys of one write batch, back to back in one growing byte buffer, with their end
 * offsets. `ops` pairs them with the batch's values as {@link RawOp}s at commit.
 *
 * Why: a batch lives until the engine has committed it (the store commits every 100 ms by default),
 * and a put's key used to be a view object of its own plus an operation object, both held that long.
 * Under load a young-generation collection usually finds a batch half full, so every scavenge copied
 * those objects (docs/benchmarks.md "Session 23"). Here a key costs its bytes and one small integer;
 * the views and operation objects are made at commit, when they are about to be handed to the engine.
 *
 * Bytes handed out by `ops` are never written again: a `push` after it first moves the log to a buffer
 * of its own (a `truncate` only moves the end).
 */
export class KeyLog {
  private bytes = new Uint8Array(0);
  /** End offset in `bytes` of each key. */
  private readonly ends: number[] = [];
  private used = 0;
  /** Whether views into `bytes` were handed out (see the class comment). */
  private shared = false;

  /** Number of keys. */
  get length(): number {
    return this.ends.length;
  }

  /** Appends the key `prefix ++ key` (a bucket prefix and a bucket key). */
  push(prefix: Uint8Array, key: Uint8Array): void {
    const n = prefix.length + key.length;
    this.reserve(n);
    this.bytes.set(prefix, this.used);
    this.bytes.set(key, this.used + prefix.length);
    this.used += n;
    this.ends.push(this.used);
  }

  /** Keeps the first `length` keys. */
  truncate(length: number): void {
    if (length >= this.ends.length) return;
    this.ends.length = length;
    this.used = length === 0 ? 0 : this.ends[length - 1]!;
  }

  /** The keys paired with `values` (one per key; undefined means delete), in order. */
  ops(values: readonly (Uint8Array | undefined)[]): RawOp[] {
    const out = new Array<RawOp>(this.ends.length);
    let start = 0;
    for (let i = 0; i < out.length; i++) {
      const end = this.ends[i]!;
      out[i] = { key: this.bytes.subarray(start, end), value: values[i] };
      start = end;
    }
    this.shared = true;
    return out;
  }

  /** Makes room for `n` more bytes (in a buffer nobody else sees once views were handed out). */
  private reserve(n: number): void {
    const need = this.used + n;
    if (need <= this.bytes.length && !this.shared) return;
    let size = Math.max(this.bytes.length, INITIAL_BYTES);
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
    this.shared = false;
  }
}
