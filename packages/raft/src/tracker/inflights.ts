import { RaftInvariantError } from '../errors.js';

/**
 * Flow control window for one follower: the last index of every MsgApp sent but not yet acknowledged,
 * in a fixed-size ring buffer, with an optional byte budget. When full, the leader stops sending
 * entries to that follower until acknowledgements free space.
 */
export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private readonly indexes: number[];
  private readonly sizes: number[];

  constructor(
    readonly capacity: number,
    readonly maxBytes = 0,
  ) {
    this.indexes = new Array<number>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  clone(): Inflights {
    const c = new Inflights(this.capacity, this.maxBytes);
    c.start = this.start;
    c.count = this.count;
    c.bytes = this.bytes;
    for (let i = 0; i < this.capacity; i++) {
      c.indexes[i] = this.indexes[i]!;
      c.sizes[i] = this.sizes[i]!;
    }
    return c;
  }

  /** Records a MsgApp whose last entry is `index`; indexes must be added in increasing order. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new RaftInvariantError('cannot add into a full inflights');
    const next = (this.start + this.count) % this.capacity;
    this.indexes[next] = index;
    this.sizes[next] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    if (this.count === 0 || to < this.indexes[this.start]!) return;
    let i = 0;
    let idx = this.start;
    let freedBytes = 0;
    for (; i < this.count; i++) {
      if (to < this.indexes[idx]!) break;
      freedBytes += this.sizes[idx]!;
      idx = (idx + 1) % this.capacity;
    }
    this.count -= i;
    this.bytes -= freedBytes;
    this.start = this.count === 0 ? 0 : idx;
  }

  /** Frees the oldest message (a heartbeat response proved the follower is alive). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  get length(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
