/**
 * Exact 64-bit integers in request JSON. grpc-gateway (Go) reads an int64 field written as a bare JSON
 * number exactly, e.g. `{"ID": 3182763892645462267}` from curl; JSON.parse would round it to the
 * nearest double. Node 20 has no access to a number's source text in JSON.parse, so integer literals
 * beyond 2^53 are turned into decimal strings first; the generated `fromJSON` reads strings for every
 * integer field, exactly for the 64-bit id fields.
 */

const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER).length; // 16

/**
 * Rewrites integer literals outside strings that are not safe integers as JSON strings; everything else
 * (strings, fractions, exponents, small numbers, invalid JSON) is left as it was.
 *
 * @example
 * ```ts
 * quoteLargeIntegers('{"ID": 3182763892645462267, "TTL": 60}');
 * // '{"ID": "3182763892645462267", "TTL": 60}'
 * ```
 */
export function quoteLargeIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const next = text[i];
      const isInteger = next !== '.' && next !== 'e' && next !== 'E';
      const literal = text.slice(start, i);
      const digits = literal.replace('-', '').length;
      if (isInteger && digits >= MAX_SAFE_DIGITS && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(copied, start)}"${literal}"`;
        copied = i;
      }
      // A fraction or exponent: skip the rest of the number.
      while (i < text.length && /[0-9.eE+-]/.test(text[i]!)) i++;
      continue;
    }
    i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
