/**
 * Physical key layout shared by all engines: `bucket '\0' key`. Bucket names never contain NUL, so each
 * bucket is one contiguous, ordered run of the engine's single key space.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const prefixCache = new Map<string, Uint8Array>();

export function bucketPrefix(bucket: string): Uint8Array {
  let p = prefixCache.get(bucket);
  if (!p) {
    if (bucket.length === 0 || bucket.includes('\0'))
      throw new Error(`backend: invalid bucket name ${bucket}`);
    const name = encoder.encode(bucket);
    p = new Uint8Array(name.length + 1);
    p.set(name);
    prefixCache.set(bucket, p);
  }
  return p;
}

/** `bucket '\0' key`. */
export function physicalKey(bucket: string, key: Uint8Array): Uint8Array {
  const p = bucketPrefix(bucket);
  const out = new Uint8Array(p.length + key.length);
  out.set(p);
  out.set(key, p.length);
  return out;
}

/** Exclusive upper bound of a whole bucket: prefix with the NUL separator bumped to 0x01. */
export function bucketEnd(bucket: string): Uint8Array {
  const p = bucketPrefix(bucket).slice();
  p[p.length - 1] = 1;
  return p;
}

/** Physical [lo, hi) for a scan. */
export function scanBounds(bucket: string, start?: Uint8Array, end?: Uint8Array): [Uint8Array, Uint8Array] {
  return [
    physicalKey(bucket, start ?? new Uint8Array(0)),
    end ? physicalKey(bucket, end) : bucketEnd(bucket),
  ];
}

/** Splits a physical key into bucket and user key. */
export function splitKey(physical: Uint8Array): [string, Uint8Array] {
  const sep = physical.indexOf(0);
  return [decoder.decode(physical.subarray(0, sep)), physical.subarray(sep + 1)];
}
