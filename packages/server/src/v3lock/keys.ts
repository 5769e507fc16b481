/** Key helpers shared by v3lock and v3election. */

const enc = new TextEncoder();

/** `a` followed by `b`. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** `name + "/"`: the prefix every contender's key lives under. */
export function keyPrefix(name: Uint8Array): Uint8Array {
  return concatBytes(name, enc.encode('/'));
}

/** `prefix + lease id in lowercase hex` (Go's %x of the int64 lease id). */
export function contenderKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  const hex = lease < 0n ? `-${(-lease).toString(16)}` : lease.toString(16);
  return concatBytes(prefix, enc.encode(hex));
}

/** The range_end that makes [key, end) cover every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]); // all 0xff: every key >= prefix
}
