/**
 * JSON with exact 64-bit integers. etcd writes member ids as bare uint64 JSON numbers (ConfChange
 * contexts, the peer `/members` answer); `JSON.parse` would round them to doubles. These helpers keep
 * every integer that is not a safe integer as a `bigint`, and write bigints back as bare numbers.
 */

/** Marks an integer literal that was turned into a string before parsing (cannot start real JSON text). */
const MARK = '\u0000';

/**
 * `JSON.parse`, except that integer literals outside the safe range come back as `bigint` (safe ones
 * stay numbers, floats are untouched).
 *
 * @example
 * ```ts
 * parseJsonExact('{"id":10276657743932975437,"n":1}'); // { id: 10276657743932975437n, n: 1 }
 * ```
 */
export function parseJsonExact(text: string): unknown {
  // Quote each bare integer literal (outside strings) with a marker, then let the reviver decide.
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      const lit = text.slice(i, j);
      if (/^-?\d+$/.test(lit)) {
        out += `${text.slice(last, i)}"\\u0000${lit}"`; // the JSON escape of MARK
        last = j;
      }
      i = j;
    } else i++;
  }
  out += text.slice(last);
  return JSON.parse(out, (_k, v) => {
    if (typeof v !== 'string' || !v.startsWith(MARK)) return v;
    const n = Number(v.slice(1));
    return Number.isSafeInteger(n) ? n : BigInt(v.slice(1));
  });
}

/**
 * `JSON.stringify` that writes bigints as bare JSON numbers (Go's encoding/json spelling of a uint64).
 *
 * @example
 * ```ts
 * stringifyJsonExact({ id: 10276657743932975437n }); // '{"id":10276657743932975437}'
 * ```
 */
export function stringifyJsonExact(value: unknown): string {
  // Each bigint is swapped for a marked string, whose quotes are then dropped.
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${MARK}${v}` : v));
  return text.replace(/"\\u0000(-?\d+)"/g, '$1');
}
