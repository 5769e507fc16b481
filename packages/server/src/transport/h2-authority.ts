/**
 * Repairs the HTTP/2 `:authority` sent by Go gRPC clients that dial `passthrough:///http://host:port`
 * (etcdctl's maintenance calls do): grpc-go sends `http://host:port` as the authority, which Go servers
 * accept but nghttp2 (Node's http2) rejects with RST_STREAM PROTOCOL_ERROR.
 *
 * The client's byte stream is parsed into frames; header blocks are walked with an HPACK decoder that
 * mirrors the client's dynamic table; a literal `:authority` value holding characters nghttp2 refuses
 * is re-emitted (uncompressed) with those characters replaced, keeping its length, so both sides'
 * dynamic tables keep identical sizes and later indexed references stay valid. Everything else is
 * copied byte for byte. Connections whose first header block is fine never go through this path.
 */
import { HUFFMAN_CODES } from './hpack-huffman.js';

const PREFACE_LEN = 24;
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const MAX_FRAME = 16384;

// HPACK static table (RFC 7541 Appendix A): name lengths matter for dynamic-table sizes.
const STATIC_NAMES = [
  '',
  ':authority',
  ':method',
  ':method',
  ':path',
  ':path',
  ':scheme',
  ':scheme',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'accept',
  'access-control-allow-origin',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'cookie',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'link',
  'location',
  'max-forwards',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'refresh',
  'retry-after',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'user-agent',
  'vary',
  'via',
  'www-authenticate',
];

interface HuffNode {
  sym: number;
  kids: [HuffNode | undefined, HuffNode | undefined];
}

let huffRoot: HuffNode | undefined;
function huffmanTree(): HuffNode {
  if (huffRoot) return huffRoot;
  const root: HuffNode = { sym: -1, kids: [undefined, undefined] };
  for (let sym = 0; sym < 257; sym++) {
    const code = HUFFMAN_CODES[2 * sym]!;
    const len = HUFFMAN_CODES[2 * sym + 1]!;
    let n = root;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) % 2;
      n.kids[bit] ??= { sym: -1, kids: [undefined, undefined] };
      n = n.kids[bit]!;
    }
    n.sym = sym;
  }
  huffRoot = root;
  return root;
}

function huffmanDecode(buf: Uint8Array): Buffer {
  const root = huffmanTree();
  const out: number[] = [];
  let n = root;
  for (const byte of buf) {
    for (let i = 7; i >= 0; i--) {
      n = n.kids[(byte >> i) & 1] ?? root;
      if (n.sym >= 0) {
        if (n.sym === 256) throw new Error('hpack: EOS in string');
        out.push(n.sym);
        n = root;
      }
    }
  }
  return Buffer.from(out);
}

/** Characters nghttp2 accepts in :authority (RFC 3986 authority). */
const AUTHORITY_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

class HpackError extends Error {}

/** Reads an HPACK integer with an N-bit prefix at buf[pos]; returns [value, nextPos]. */
function readInt(buf: Uint8Array, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let v = buf[pos]! & max;
  pos++;
  if (v < max) return [v, pos];
  let m = 0;
  for (;;) {
    if (pos >= buf.length) throw new HpackError('hpack: truncated integer');
    const b = buf[pos++]!;
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    if ((b & 0x80) === 0) return [v, pos];
    if (m > 28) throw new HpackError('hpack: integer overflow');
  }
}

function writeInt(out: number[], firstBits: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstBits | value);
    return;
  }
  out.push(firstBits | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** Reads an HPACK string; returns [decoded, nextPos]. */
function readString(buf: Uint8Array, pos: number): [Buffer, number] {
  if (pos >= buf.length) throw new HpackError('hpack: truncated string');
  const huff = (buf[pos]! & 0x80) !== 0;
  const [len, p] = readInt(buf, pos, 7);
  if (p + len > buf.length) throw new HpackError('hpack: truncated string');
  const raw = buf.subarray(p, p + len);
  return [huff ? huffmanDecode(raw) : Buffer.from(raw), p + len];
}

/** A mirror of the client's HPACK encoder state (the server's decoder table). */
export class HpackAuthorityFixer {
  private readonly table: Array<{ name: string; size: number }> = [];
  private tableSize = 0;
  private maxSize = 4096;
  /** Header blocks rewritten so far. */
  rewrites = 0;

  private nameAt(index: number): string {
    if (index <= 0) throw new HpackError('hpack: index 0');
    if (index < STATIC_NAMES.length) return STATIC_NAMES[index]!;
    const e = this.table[index - STATIC_NAMES.length];
    if (!e) throw new HpackError('hpack: index out of range');
    return e.name;
  }

  private insert(name: string, valueLen: number): void {
    const size = Buffer.byteLength(name) + valueLen + 32;
    this.table.unshift({ name, size });
    this.tableSize += size;
    this.evict();
  }

  private evict(): void {
    while (this.tableSize > this.maxSize && this.table.length) this.tableSize -= this.table.pop()!.size;
  }

  /** Walks one header block; returns it with bad :authority values replaced (or the same bytes). */
  fixBlock(block: Uint8Array): Uint8Array {
    const out: number[] = [];
    let changed = false;
    let pos = 0;
    while (pos < block.length) {
      const start = pos;
      const b = block[pos]!;
      if (b & 0x80) {
        [, pos] = readInt(block, pos, 7);
        copy(out, block, start, pos);
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        let size: number;
        [size, pos] = readInt(block, pos, 5);
        this.maxSize = size;
        this.evict();
        copy(out, block, start, pos);
        continue;
      }
      const indexing = (b & 0xc0) === 0x40;
      const prefix = indexing ? 6 : 4;
      let nameIndex: number;
      [nameIndex, pos] = readInt(block, pos, prefix);
      let name: string;
      if (nameIndex === 0) {
        let nameBuf: Buffer;
        [nameBuf, pos] = readString(block, pos);
        name = nameBuf.toString('latin1');
      } else {
        name = this.nameAt(nameIndex);
      }
      const nameEnd = pos;
      let value: Buffer;
      [value, pos] = readString(block, pos);
      if (indexing) this.insert(name, value.length);
      if (name === ':authority' && !AUTHORITY_OK.test(value.toString('latin1'))) {
        const fixed = Buffer.from(
          value.toString('latin1').replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]/g, '-'),
          'latin1',
        );
        copy(out, block, start, nameEnd);
        writeInt(out, 0, 7, fixed.length);
        for (const c of fixed) out.push(c);
        changed = true;
      } else {
        copy(out, block, start, pos);
      }
    }
    if (!changed) return block;
    this.rewrites++;
    return Uint8Array.from(out);
  }
}

function copy(out: number[], src: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) out.push(src[i]!);
}

/**
 * Incremental client→server HTTP/2 stream rewriter. `push(chunk)` returns the bytes to forward.
 * In probe mode it also reports, once the first header block has been seen, whether any repair was
 * needed (`firstBlockNeededFix`).
 */
export class H2AuthorityRewriter {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceDone = false;
  private readonly hpack = new HpackAuthorityFixer();
  /** Pending HEADERS awaiting CONTINUATION frames. */
  private pending: { streamId: number; flags: number; priority: Buffer; parts: Buffer[] } | undefined;
  /** undefined until the first header block is complete. */
  firstBlockNeededFix: boolean | undefined;
  /** Set once the first header block was clean: from then on bytes pass through unparsed. */
  private passthrough = false;

  push(chunk: Buffer): Buffer {
    if (this.passthrough) return chunk;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    if (!this.prefaceDone) {
      if (this.buf.length < PREFACE_LEN) return Buffer.alloc(0);
      out.push(this.buf.subarray(0, PREFACE_LEN));
      this.buf = this.buf.subarray(PREFACE_LEN);
      this.prefaceDone = true;
    }
    while (this.buf.length >= FRAME_HEADER) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < FRAME_HEADER + len) break;
      const frame = this.buf.subarray(0, FRAME_HEADER + len);
      this.buf = this.buf.subarray(FRAME_HEADER + len);
      const type = frame[3]!;
      const flags = frame[4]!;
      const streamId = frame.readUInt32BE(5) & 0x7fffffff;
      if (type === TYPE_HEADERS) {
        let p = FRAME_HEADER;
        let padLen = 0;
        if (flags & FLAG_PADDED) padLen = frame[p++]!;
        const priority = flags & FLAG_PRIORITY ? frame.subarray(p, p + 5) : Buffer.alloc(0);
        p += priority.length;
        const fragment = frame.subarray(p, frame.length - padLen);
        this.pending = { streamId, flags, priority, parts: [fragment] };
      } else if (type === TYPE_CONTINUATION && this.pending) {
        this.pending.parts.push(frame.subarray(FRAME_HEADER));
      } else {
        out.push(frame);
        continue;
      }
      const endHeaders = (type === TYPE_HEADERS ? flags : frame[4]!) & FLAG_END_HEADERS;
      if (endHeaders) out.push(this.finishBlock());
    }
    if (this.firstBlockNeededFix === false && !this.pending) {
      // A clean connection: forward the partial frame held back so far and stop parsing. Dropping it
      // here would lose the start of a DATA frame and stall the stream (large requests hung).
      this.passthrough = true;
      out.push(this.buf);
      this.buf = Buffer.alloc(0);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private finishBlock(): Buffer {
    const p = this.pending!;
    this.pending = undefined;
    const block = Buffer.concat(p.parts);
    const fixed = this.hpack.fixBlock(block);
    if (this.firstBlockNeededFix === undefined) this.firstBlockNeededFix = fixed !== block;
    // Re-frame: HEADERS (+ CONTINUATION) without padding.
    const frames: Buffer[] = [];
    const first = MAX_FRAME - p.priority.length;
    let off = 0;
    let isFirst = true;
    while (isFirst || off < fixed.length) {
      const room = isFirst ? first : MAX_FRAME;
      const part = fixed.subarray(off, Math.min(fixed.length, off + room));
      off += part.length;
      const last = off >= fixed.length;
      const payload = isFirst ? Buffer.concat([p.priority, part]) : Buffer.from(part);
      const hdr = Buffer.alloc(FRAME_HEADER);
      hdr.writeUIntBE(payload.length, 0, 3);
      hdr[3] = isFirst ? TYPE_HEADERS : TYPE_CONTINUATION;
      const baseFlags = isFirst ? p.flags & ~(FLAG_PADDED | FLAG_END_HEADERS) : 0;
      hdr[4] = baseFlags | (last ? FLAG_END_HEADERS : 0);
      hdr.writeUInt32BE(p.streamId, 5);
      frames.push(hdr, payload);
      isFirst = false;
    }
    return Buffer.concat(frames);
  }
}
