/**
 * A growable list of byte strings packed into one buffer, each with a fixed number of numbers: the
 * writer's plan keeps one first key and a few counts per branch-page child, so one object per entry
 * would cost tens of bytes of heap where this costs the key bytes plus 4 + 8 × width.
 */
export class PackedKeys {
  private bytes = new Uint8Array(256);
  private used = 0;
  private offsets = new Uint32Array(16);
  private nums: Float64Array;
  length = 0;

  /** `width`: numbers kept per entry (all start at 0). */
  constructor(readonly width = 2) {
    this.nums = new Float64Array(16 * width);
  }

  /** Appends `key` (copied) and returns its index. */
  push(key: Uint8Array): number {
    if (this.length + 1 >= this.offsets.length) {
      // Grows by 1.5×: the copy and the old array are both alive while growing.
      const cap = Math.ceil(this.offsets.length * 1.5) + 1;
      const offsets = new Uint32Array(cap);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const nums = new Float64Array(cap * this.width);
      nums.set(this.nums);
      this.nums = nums;
    }
    if (this.used + key.length > this.bytes.length) {
      const bytes = new Uint8Array(Math.max(Math.ceil(this.bytes.length * 1.5), this.used + key.length));
      bytes.set(this.bytes.subarray(0, this.used));
      this.bytes = bytes;
    }
    this.bytes.set(key, this.used);
    const i = this.length;
    this.offsets[i] = this.used;
    this.used += key.length;
    this.offsets[i + 1] = this.used;
    this.nums.fill(0, i * this.width, (i + 1) * this.width);
    this.length++;
    return i;
  }

  /** Entry i's key: a view valid until the next push or clear. */
  key(i: number): Uint8Array {
    return this.bytes.subarray(this.offsets[i]!, this.offsets[i + 1]!);
  }

  /** Number `j` of entry i. */
  num(i: number, j = 0): number {
    return this.nums[i * this.width + j]!;
  }

  setNum(i: number, n: number, j = 0): void {
    this.nums[i * this.width + j] = n;
  }

  /** Empties the list, keeping its buffers for reuse. */
  clear(): void {
    this.length = 0;
    this.used = 0;
  }
}
