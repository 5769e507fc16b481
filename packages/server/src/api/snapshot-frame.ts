/**
 * Maintenance.Snapshot responses encoded straight into one reused gRPC frame. The generic path
 * (codec encode, an exact-size copy, the 5-byte prefix copy) allocated two 32 KiB buffers per chunk,
 * and V8 frees such external memory only after ~64 MiB of it has piled up: a 1 GiB snapshot kept
 * tens of MiB of dead copies in RSS. Here the header is encoded once per stream and each chunk costs
 * one copy of its blob into a buffer allocated once.
 */
import { ResponseHeader } from '@kv/client/api';
import { varintLength, writeVarint } from '@kv/raft';
import { PREFIX_BYTES } from '../transport/grpc/framing.js';

/** A SnapshotResponse as the handlers produce it (fields may be left out, as with the codec). */
export interface SnapshotChunk {
  header?: Parameters<typeof ResponseHeader.encode>[0] | undefined;
  remainingBytes?: number | undefined;
  blob?: Uint8Array | undefined;
  version?: string | undefined;
}

const EMPTY = new Uint8Array(0);

/** Wire tags of SnapshotResponse's fields (field number << 3 | wire type). */
const TAG_HEADER = 0x0a;
const TAG_REMAINING = 0x10;
const TAG_BLOB = 0x1a;
const TAG_VERSION = 0x22;

/**
 * Encodes SnapshotResponse messages of one stream, each as a whole gRPC frame in the same buffer: the
 * frame returned by {@link encode} is valid until the next call, so the writer must wait until the
 * transport has copied it out (ServerCall.sent()) before encoding the next. Bytes are those of the
 * generated codec (fields in number order, proto3 defaults left out).
 *
 * @example
 * ```ts
 * const frames = new SnapshotFrameEncoder(32 * 1024);
 * for await (const resp of maintenance.snapshot(ctx)) {
 *   if (!call.writeFramed(frames.encode(resp))) await drained();
 *   await call.sent();
 * }
 * ```
 */
export class SnapshotFrameEncoder {
  private buf: Buffer;
  private header: SnapshotChunk['header'];
  private headerBytes: Uint8Array = new Uint8Array(0);
  private version = '';
  private versionBytes: Buffer = Buffer.alloc(0);

  /** `blobBytes`: the usual blob size (a larger blob makes the buffer grow once). */
  constructor(blobBytes: number) {
    this.buf = Buffer.allocUnsafeSlow(PREFIX_BYTES + blobBytes + 256);
  }

  /** The frame of `resp`, in the encoder's buffer (overwritten by the next call). */
  encode(resp: SnapshotChunk): Buffer {
    // The header and version are the same object and string for a whole stream: encoded once.
    if (resp.header !== this.header) {
      this.header = resp.header;
      this.headerBytes = resp.header ? ResponseHeader.encode(resp.header) : new Uint8Array(0);
    }
    const version = resp.version ?? '';
    if (version !== this.version) {
      this.version = version;
      this.versionBytes = Buffer.from(version, 'utf8');
    }
    const remainingBytes = resp.remainingBytes ?? 0;
    const blob = resp.blob ?? EMPTY;
    let size = 0;
    if (resp.header) size += 1 + varintLength(this.headerBytes.length) + this.headerBytes.length;
    if (remainingBytes !== 0) size += 1 + varintLength(remainingBytes);
    if (blob.length > 0) size += 1 + varintLength(blob.length) + blob.length;
    if (this.versionBytes.length > 0)
      size += 1 + varintLength(this.versionBytes.length) + this.versionBytes.length;
    if (PREFIX_BYTES + size > this.buf.length) this.buf = Buffer.allocUnsafeSlow(PREFIX_BYTES + size);
    const b = this.buf;
    b[0] = 0;
    b.writeUInt32BE(size, 1);
    let at = PREFIX_BYTES;
    if (resp.header) {
      b[at++] = TAG_HEADER;
      at = writeVarint(b, at, this.headerBytes.length);
      b.set(this.headerBytes, at);
      at += this.headerBytes.length;
    }
    if (remainingBytes !== 0) {
      b[at++] = TAG_REMAINING;
      at = writeVarint(b, at, remainingBytes);
    }
    if (blob.length > 0) {
      b[at++] = TAG_BLOB;
      at = writeVarint(b, at, blob.length);
      b.set(blob, at);
      at += blob.length;
    }
    if (this.versionBytes.length > 0) {
      b[at++] = TAG_VERSION;
      at = writeVarint(b, at, this.versionBytes.length);
      this.versionBytes.copy(b, at);
      at += this.versionBytes.length;
    }
    return b.subarray(0, at);
  }
}
