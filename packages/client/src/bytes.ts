/** Key/value conversions: the public API takes strings or bytes, the wire wants bytes. */

/**
 * A key or value: strings are encoded as UTF-8.
 *
 * @example
 * ```ts
 * await client.put('key', 'text value'); // a string is sent as UTF-8
 * await client.put(new Uint8Array([0xff]), new Uint8Array([1, 2, 3])); // raw bytes
 * ```
 */
export type Bytes = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * UTF-8 bytes of a string; a Uint8Array is passed through.
 *
 * @example
 * ```ts
 * const key: Uint8Array = toBytes('config/a');
 * ```
 */
export function toBytes(v: Bytes): Uint8Array {
  return typeof v === 'string' ? encoder.encode(v) : v;
}

/**
 * Bytes as a UTF-8 string (invalid sequences become U+FFFD).
 *
 * @example
 * ```ts
 * const res = await client.get('config/a');
 * console.log(toText(res.kvs[0]!.value));
 * ```
 */
export function toText(b: Uint8Array): string {
  return decoder.decode(b);
}

/**
 * The smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`):
 * increment the last byte below 0xff and cut after it. An all-0xff or empty prefix means "to the end"
 * and yields `[0]`.
 *
 * @example
 * ```ts
 * prefixEnd(toBytes('app/')); // bytes of 'app0': the end of the range of keys under 'app/'
 * ```
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i] as number;
    if (b < 0xff) {
      // Uint8Array's slice copies; a Buffer's `slice` would be a view, and the increment below would
      // then change the caller's prefix.
      const end = Uint8Array.prototype.slice.call(prefix, 0, i + 1);
      end[i] = b + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}
