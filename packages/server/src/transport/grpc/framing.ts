/**
 * gRPC's wire format over HTTP/2 (the parts a server needs): length-prefixed messages in DATA frames,
 * optional per-message compression, and the percent-encoded `grpc-message` trailer.
 * See https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
 */
import * as zlib from 'node:zlib';
import { Status } from './status.js';

/** Bytes before each message: 1 flag byte (1 = compressed) and a 4-byte big-endian length. */
export const PREFIX_BYTES = 5;

/** A failure with a gRPC status (sent to the client as grpc-status / grpc-message). */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = 'GrpcStatusError';
  }
}

/** Prefixes one serialized message for the wire (uncompressed). */
export function frameMessage(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, PREFIX_BYTES);
  return out;
}

/**
 * Splits a request body, arriving in arbitrary chunks, into messages. Messages over `maxLength` are
 * refused from their prefix alone (nothing is buffered for them), with grpc-go's error.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the first buffered message needs in all (prefix + body), once its prefix is known. */
  private needed = PREFIX_BYTES;

  constructor(
    private readonly maxLength: number,
    /** The call's `grpc-encoding` header (how flagged messages are compressed). */
    private readonly encoding: string | undefined,
  ) {}

  /** True while part of a message is waiting for more bytes. */
  get partial(): boolean {
    return this.buffered > 0;
  }

  /**
   * Adds a chunk and returns the messages it completes (possibly none). Throws
   * {@link GrpcStatusError} for an oversized, badly flagged or undecompressable message.
   */
  push(chunk: Buffer): Buffer[] {
    let data: Buffer;
    if (this.buffered === 0) {
      // Common case: a whole unary request in one chunk, nothing buffered.
      data = chunk;
    } else {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      // A large message arrives in many chunks: join them once, when it is complete.
      if (this.buffered < this.needed) return [];
      data = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    }
    const out: Buffer[] = [];
    let off = 0;
    this.needed = PREFIX_BYTES;
    while (data.length - off >= PREFIX_BYTES) {
      const flag = data[off]!;
      const len = data.readUInt32BE(off + 1);
      if (len > this.maxLength) {
        throw new GrpcStatusError(
          Status.RESOURCE_EXHAUSTED,
          `grpc: received message larger than max (${len} vs. ${this.maxLength})`,
        );
      }
      if (data.length - off - PREFIX_BYTES < len) {
        this.needed = PREFIX_BYTES + len;
        break;
      }
      const body = data.subarray(off + PREFIX_BYTES, off + PREFIX_BYTES + len);
      out.push(flag === 0 ? body : this.decompress(flag, body));
      off += PREFIX_BYTES + len;
    }
    if (off < data.length) {
      this.chunks.push(data.subarray(off));
      this.buffered = data.length - off;
    }
    return out;
  }

  private decompress(flag: number, body: Buffer): Buffer {
    if (flag !== 1) {
      throw new GrpcStatusError(Status.INTERNAL, `grpc: received unexpected payload format ${flag}`);
    }
    const enc = this.encoding;
    if (enc === undefined || enc === '' || enc === 'identity') {
      throw new GrpcStatusError(Status.INTERNAL, 'grpc: compressed flag set with identity or empty encoding');
    }
    try {
      let out: Buffer;
      if (enc === 'gzip') out = zlib.gunzipSync(body, { maxOutputLength: this.maxLength + 1 });
      else if (enc === 'deflate') out = zlib.inflateSync(body, { maxOutputLength: this.maxLength + 1 });
      else {
        throw new GrpcStatusError(
          Status.UNIMPLEMENTED,
          `grpc: Decompressor is not installed for grpc-encoding "${enc}"`,
        );
      }
      if (out.length > this.maxLength) throw new RangeError('too large');
      return out;
    } catch (err) {
      if (err instanceof GrpcStatusError) throw err;
      if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new GrpcStatusError(
          Status.RESOURCE_EXHAUSTED,
          `grpc: received message after decompression larger than max (${this.maxLength})`,
        );
      }
      throw new GrpcStatusError(
        Status.INTERNAL,
        `grpc: failed to decompress the received message: ${(err as Error).message}`,
      );
    }
  }
}

/** The trailer fields that carry a status: `grpc-status`, and `grpc-message` when there is one. */
export function statusFields(code: number, details: string): Array<[string, string]> {
  return details === ''
    ? [['grpc-status', String(code)]]
    : [
        ['grpc-status', String(code)],
        ['grpc-message', encodeGrpcMessage(details)],
      ];
}

/**
 * The `grpc-message` encoding: UTF-8, with bytes outside printable ASCII and `%` itself
 * percent-encoded. Most messages (etcd's) are plain ASCII and pass through unchanged.
 */
export function encodeGrpcMessage(message: string): string {
  if (!/[^\x20-\x24\x26-\x7e]/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${hex2(byte)}`;
  }
  return out;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}
