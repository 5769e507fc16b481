/**
 * A growable list of byte strings packed into one buffer, with a number per entry: the writer's plan
 * keeps one first key and one page id per page of a bucket, and a 1 GiB bucket has ~256k pages, so
 * one object per entry would cost tens of megabytes where this costs the key bytes plus 12.
 */
export class PackedKeys {
  private bytes = new Uint8Array(256);
  private used = 0;
  private offsets = new Uint32Array(16);
  private nums = new Float64Array(16);
  private aux = new Float64Array(16);
  length = 0;

  push(key: Uint8Array, num: number, aux = 0): void {
    if (this.length + 1 >= this.offsets.length) {
      const offsets = new Uint32Array(this.offsets.length * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const nums = new Float64Array(this.nums.length * 2);
      nums.set(this.nums);
      this.nums = nums;
      const more = new Float64Array(this.aux.length * 2);
      more.set(this.aux);
      this.aux = more;
    }
    if (this.used + key.length > this.bytes.length) {
      const bytes = new Uint8Array(Math.max(this.bytes.length * 2, this.used + key.length));
      bytes.set(this.bytes.subarray(0, this.used));
      this.bytes = bytes;
    }
    this.bytes.set(key, this.used);
    this.offsets[this.length] = this.used;
    this.used += key.length;
    this.offsets[this.length + 1] = this.used;
    this.nums[this.length] = num;
    this.aux[this.length] = aux;
    this.length++;
  }

  key(i: number): Uint8Array {
    return this.bytes.subarray(this.offsets[i]!, this.offsets[i + 1]!);
  }

  num(i: number): number {
    return this.nums[i]!;
  }

  /** The second number of entry i. */
  second(i: number): number {
    return this.aux[i]!;
  }

  setNum(i: number, n: number): void {
    this.nums[i] = n;
  }
}
