/**
 * HPACK (RFC 7541) for the gRPC server's HTTP/2 layer: a full decoder (static and dynamic tables,
 * Huffman strings) for request header blocks, and the few encodings responses need. Responses never
 * use the dynamic table: their fields are static-table indices or literals without indexing, so the
 * encoder keeps no state and the client's table limits do not concern it.
 */
import { HUFFMAN_CODES } from '../hpack-huffman.js';

/** A header block the decoder cannot accept (a connection error: COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

// biome-ignore format: RFC 7541 Appendix A, one entry per line would be 61 lines of noise
const STATIC: ReadonlyArray<readonly [string, string]> = [['', ''],
  [':authority',''],[':method','GET'],[':method','POST'],[':path','/'],[':path','/index.html'],[':scheme','http'],
  [':scheme','https'],[':status','200'],[':status','204'],[':status','206'],[':status','304'],[':status','400'],
  [':status','404'],[':status','500'],['accept-charset',''],['accept-encoding','gzip, deflate'],['accept-language',''],
  ['accept-ranges',''],['accept',''],['access-control-allow-origin',''],['age',''],['allow',''],['authorization',''],
  ['cache-control',''],['content-disposition',''],['content-encoding',''],['content-language',''],['content-length',''],
  ['content-location',''],['content-range',''],['content-type',''],['cookie',''],['date',''],['etag',''],['expect',''],
  ['expires',''],['from',''],['host',''],['if-match',''],['if-modified-since',''],['if-none-match',''],['if-range',''],
  ['if-unmodified-since',''],['last-modified',''],['link',''],['location',''],['max-forwards',''],['proxy-authenticate',''],
  ['proxy-authorization',''],['range',''],['referer',''],['refresh',''],['retry-after',''],['server',''],['set-cookie',''],
  ['strict-transport-security',''],['transfer-encoding',''],['user-agent',''],['vary',''],['via',''],['www-authenticate','']];

// The Huffman code as a flat binary trie: node n's children are kids[2n] and kids[2n+1]; sym[n] >= 0
// marks a leaf. Typed arrays keep decoding free of allocation apart from the resulting string.
const kids = new Int32Array(2 * 520).fill(-1);
const sym = new Int32Array(520).fill(-1);
{
  let nodes = 1;
  for (let s = 0; s < 257; s++) {
    const code = HUFFMAN_CODES[2 * s]!;
    const len = HUFFMAN_CODES[2 * s + 1]!;
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) % 2;
      if (kids[2 * n + bit]! < 0) kids[2 * n + bit] = nodes++;
      n = kids[2 * n + bit]!;
    }
    sym[n] = s;
  }
}
const huffScratch = Buffer.allocUnsafe(8192);

function huffmanDecode(buf: Buffer, start: number, end: number): string {
  // A Huffman code is at least 5 bits long, so the output has at most 8/5 of the input's length.
  let out = huffScratch.length >= (end - start) * 2 ? huffScratch : Buffer.allocUnsafe((end - start) * 2);
  let o = 0;
  let n = 0;
  // Bits since the last symbol: the padding must be fewer than 8 bits, all ones (RFC 7541 5.2).
  let depth = 0;
  let ones = true;
  for (let p = start; p < end; p++) {
    const byte = buf[p]!;
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      n = kids[2 * n + bit]!;
      depth++;
      ones &&= bit === 1;
      if (n < 0) throw new HpackError('hpack: invalid Huffman code');
      const s = sym[n]!;
      if (s >= 0) {
        if (s === 256) throw new HpackError('hpack: EOS in a string');
        if (o === out.length) out = Buffer.concat([out, Buffer.alloc(out.length)]);
        out[o++] = s;
        n = 0;
        depth = 0;
        ones = true;
      }
    }
  }
  if (depth > 7 || !ones) throw new HpackError('hpack: invalid Huffman padding');
  return out.toString('latin1', 0, o);
}

/** Decoded request headers: lower-case names, the last value of a repeated name. */
export type HeaderMap = Record<string, string>;

/** Request header names that HTTP/2 forbids (RFC 9113 8.2.2): connection-specific fields. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
/** The pseudo-header fields a request may carry (RFC 9113 8.3.1). */
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

const EMPTY_BLOCK = Buffer.alloc(0);
/** An empty header map that nothing may add to (the decoder's idle state, a closed stream's headers). */
export const EMPTY_HEADERS: HeaderMap = Object.freeze(Object.create(null)) as HeaderMap;

/**
 * A new, empty header map. Its prototype is an empty object without a prototype, so no name (`constructor`,
 * `__proto__`, `toString`) finds anything but a decoded field, as with `Object.create(null)`; unlike that,
 * it starts in V8's fast mode, where adding a field is an inline store instead of a dictionary insert
 * through the runtime (micro-benchmark, 8 fields of a grpc-go request: 92 against 243-265 ns).
 */
const newHeaderMap = (() => {
  function HeaderFields() {}
  HeaderFields.prototype = Object.create(null);
  return () => new (HeaderFields as unknown as new () => HeaderMap)();
})();

/** One connection's decoder: the dynamic table the client's encoder mirrors. */
export class HpackDecoder {
  /**
   * Why the last decoded block is not a valid HTTP/2 field section (uppercase or connection-specific
   * names, a pseudo-header after a regular field, an unknown or repeated pseudo-header, TE other than
   * "trailers"), or undefined. A malformed request is a stream error, so the block is still decoded in
   * full to keep the dynamic table in step with the client's.
   */
  malformed: string | undefined;
  /** The last block had at least one pseudo-header field (trailers must have none). */
  sawPseudo = false;
  /**
   * The last block's fields added up (RFC 7541 size: name + value + 32 each) to more than
   * `maxListSize`: fields past the limit were decoded (the table must stay in step) but dropped, so
   * a block that expands to gigabytes (an HPACK bomb) costs no more memory than the limit.
   */
  tooLarge = false;
  /** Literal names already found valid. */
  private readonly validNames = new Set<string>();
  /** Entries, newest first. */
  private table: Array<readonly [string, string]> = [];
  private size = 0;
  private max: number;

  /**
   * @param maxAllowed our SETTINGS_HEADER_TABLE_SIZE (the protocol default is 4096).
   * @param maxListSize our SETTINGS_MAX_HEADER_LIST_SIZE.
   */
  constructor(
    private readonly maxAllowed = 4096,
    private readonly maxListSize = 0x7fffffff,
  ) {
    this.max = maxAllowed;
  }

  // The block being decoded (fields rather than closures over locals: no four closures and a context
  // object allocated per request).
  private buf: Buffer = EMPTY_BLOCK;
  private pos = 0;
  private end = 0;
  private out: HeaderMap = EMPTY_HEADERS;
  private listSize = 0;
  private regularSeen = false;

  /** Decodes one complete header block. Every block must pass through here to keep the table in sync. */
  decode(buf: Buffer): HeaderMap {
    const out = newHeaderMap();
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.out = out;
    this.listSize = 0;
    this.regularSeen = false;
    this.malformed = undefined;
    this.sawPseudo = false;
    this.tooLarge = false;
    let first = true;
    try {
      while (this.pos < this.end) {
        const b = buf[this.pos]!;
        if (b & 0x80) {
          const i = this.int(7);
          const [n, v] = this.entry(i);
          this.field(n, v, i >= STATIC.length);
        } else if ((b & 0xe0) === 0x20) {
          // Table size updates are legal only at the start of a block, up to what we advertised.
          if (!first) throw new HpackError('hpack: table size update after a field');
          const size = this.int(5);
          if (size > this.maxAllowed)
            throw new HpackError('hpack: table size above SETTINGS_HEADER_TABLE_SIZE');
          this.max = size;
          this.evict(0);
          continue;
        } else {
          const indexing = (b & 0xc0) === 0x40;
          const idx = this.int(indexing ? 6 : 4);
          const name = idx === 0 ? this.str() : this.entry(idx)[0];
          const value = this.str();
          if (indexing) this.insert(name, value);
          this.field(name, value, idx === 0 || idx >= STATIC.length);
        }
        first = false;
      }
    } finally {
      // Do not keep the connection's last block (and its headers) alive until the next one.
      this.buf = EMPTY_BLOCK;
      this.out = EMPTY_HEADERS;
    }
    return out;
  }

  /** An HPACK integer with an N-bit prefix at the current position. */
  private int(prefixBits: number): number {
    const buf = this.buf;
    const mask = (1 << prefixBits) - 1;
    let v = buf[this.pos++]! & mask;
    if (v < mask) return v;
    for (let m = 0; ; m += 7) {
      if (this.pos >= this.end) throw new HpackError('hpack: truncated integer');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** m;
      if ((b & 0x80) === 0) return v;
      if (m > 21) throw new HpackError('hpack: integer overflow');
    }
  }

  /** A string literal (Huffman-coded or raw) at the current position. */
  private str(): string {
    if (this.pos >= this.end) throw new HpackError('hpack: truncated string');
    const huffman = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.int(7);
    const pos = this.pos;
    if (pos + len > this.end) throw new HpackError('hpack: truncated string');
    const s = huffman ? huffmanDecode(this.buf, pos, pos + len) : this.buf.toString('latin1', pos, pos + len);
    this.pos = pos + len;
    return s;
  }

  /** The static or dynamic table entry at HPACK index `i`. */
  private entry(i: number): readonly [string, string] {
    if (i === 0) throw new HpackError('hpack: index 0');
    if (i < STATIC.length) return STATIC[i]!;
    const e = this.table[i - STATIC.length];
    if (!e) throw new HpackError('hpack: index out of range');
    return e;
  }

  /** Adds one decoded field to the block's headers (within the list size limit), checking it. */
  private field(name: string, value: string, literalName: boolean): void {
    this.listSize += name.length + value.length + 32;
    if (this.listSize > this.maxListSize) {
      this.tooLarge = true;
      return;
    }
    if (this.malformed === undefined)
      this.malformed = this.check(name, value, literalName, this.out, this.regularSeen);
    if (name.charCodeAt(0) === 58 /* ':' */) this.sawPseudo = true;
    else this.regularSeen = true;
    this.out[name] = value;
  }

  /** Why one field makes a request's field section malformed (RFC 9113 8.2 and 8.3), or undefined. */
  private check(
    name: string,
    value: string,
    literalName: boolean,
    seen: HeaderMap,
    regularSeen: boolean,
  ): string | undefined {
    if (literalName && !this.validNames.has(name)) {
      if (name.length === 0 || /[^a-z0-9!#$%&'*+\-.^_`|~:]/.test(name))
        return `invalid header name "${name}"`;
      // Clients repeat the same few names (from their dynamic tables): check each once.
      if (this.validNames.size < 256) this.validNames.add(name);
    }
    if (name.charCodeAt(0) === 58) {
      if (regularSeen) return `pseudo-header ${name} after a regular field`;
      if (!REQUEST_PSEUDO.has(name)) return `pseudo-header ${name} not allowed in a request`;
      if (seen[name] !== undefined) return `pseudo-header ${name} repeated`;
      return undefined;
    }
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header ${name}`;
    if (name === 'te' && value !== 'trailers') return 'te other than "trailers"';
    return undefined;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 4.4).
    if (size > this.max) return;
    this.table.unshift([name, value]);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.size + room > this.max && this.table.length > 0) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

/** Appends an HPACK integer with an N-bit prefix (the first byte's high bits are `first`). */
function pushInt(out: number[], first: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(first | value);
    return;
  }
  out.push(first | mask);
  let v = value - mask;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * Encodes header fields as literals without indexing (new names, raw strings): `:status` uses its
 * static-table name. Values must be ASCII (gRPC percent-encodes grpc-message).
 */
export function encodeFields(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ':status' && value === '200') {
      out.push(0x88);
      continue;
    }
    if (name === ':status') pushInt(out, 0x00, 4, 8);
    else {
      out.push(0x00);
      pushInt(out, 0, 7, name.length);
      for (let i = 0; i < name.length; i++) out.push(name.charCodeAt(i) & 0xff);
    }
    pushInt(out, 0, 7, value.length);
    for (let i = 0; i < value.length; i++) out.push(value.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}
