/**
 * etcd's msgappv2 stream encoding (rafthttp/msgappv2_codec.go). Each frame starts with a type byte:
 *
 * - 0 link heartbeat: nothing follows;
 * - 1 AppEntries: a MsgApp that continues exactly where the previous one on this stream ended (same
 *   term, log term == term, index == last index sent). Only the entries and the commit index travel:
 *   uint64 count, then per entry uint64 size + marshaled raftpb.Entry, then uint64 commit;
 * - 2 full message: uint64 size + marshaled raftpb.Message.
 *
 * Encoder and decoder both track (term, index) so the receiver rebuilds the omitted fields; the
 * tracking rules below are etcd's, including that it only advances on frames 1 and 2.
 */
import {
  decodeEntry,
  decodeMessage,
  EMPTY_BYTES,
  encodeEntryInto,
  encodeMessage,
  entryEncodedSize,
  type Message,
  MessageType,
} from '@kv/raft';
import type { ByteQueue } from './byte-queue.js';
import { FrameTooLargeError, StreamDecodeError } from './errors.js';
import { isLinkHeartbeat, LINK_HEARTBEAT, READ_BYTES_LIMIT, writeUint64BE } from './message-codec.js';

export const MSG_TYPE_LINK_HEARTBEAT = 0;
export const MSG_TYPE_APP_ENTRIES = 1;
export const MSG_TYPE_APP = 2;

/**
 * Stateful msgappv2 encoder for one connection (a new connection starts from term = index = 0).
 * @example
 * ```ts
 * const enc = new MsgAppV2Encoder();
 * res.write(enc.encode(msgApp));
 * ```
 */
export class MsgAppV2Encoder {
  private term = 0;
  private index = 0;
  /** Protobuf bytes in the last frame (what the byte metrics count), framing excluded. */
  lastPayloadBytes = 0;

  /** Encodes one message into a single buffer and advances the tracked (term, index). */
  encode(m: Message): Buffer {
    if (isLinkHeartbeat(m)) {
      this.lastPayloadBytes = 0;
      return Buffer.from([MSG_TYPE_LINK_HEARTBEAT]);
    }
    if (this.index === m.index && this.term === m.logTerm && m.logTerm === m.term) {
      // Entries are sized first and encoded in place: no per-entry buffer, no second copy.
      const entries = m.entries;
      let len = 1 + 8 + 8;
      for (const e of entries) len += 8 + entryEncodedSize(e);
      const out = Buffer.allocUnsafe(len);
      out[0] = MSG_TYPE_APP_ENTRIES;
      writeUint64BE(out, entries.length, 1);
      let off = 9;
      for (const e of entries) {
        const end = encodeEntryInto(e, out, off + 8);
        writeUint64BE(out, end - off - 8, off);
        off = end;
        this.index++;
      }
      writeUint64BE(out, m.commit, off);
      this.lastPayloadBytes = len - 17 - 8 * entries.length;
      return out;
    }
    const body = encodeMessage(m);
    const out = Buffer.allocUnsafe(1 + 8 + body.length);
    out[0] = MSG_TYPE_APP;
    writeUint64BE(out, body.length, 1);
    out.set(body, 9);
    this.lastPayloadBytes = body.length;
    this.term = m.term;
    this.index = m.index;
    const last = m.entries[m.entries.length - 1];
    if (last) this.index = last.index;
    return out;
  }
}

/**
 * Stateful msgappv2 decoder for one connection: `local` is us, `remote` the peer writing to us.
 * @example
 * ```ts
 * const q = new ByteQueue();
 * const dec = new MsgAppV2Decoder(localId, remoteId);
 * res.on('data', (chunk) => {
 *   q.push(chunk);
 *   for (let f = dec.next(q); f; f = dec.next(q)) step(f.msg);
 * });
 * ```
 */
export class MsgAppV2Decoder {
  private term = 0;
  private index = 0;

  constructor(
    private readonly local: bigint,
    private readonly remote: bigint,
    private readonly limit = READ_BYTES_LIMIT,
  ) {}

  /**
   * The next complete message from `q` with its payload size, or undefined when more bytes are needed
   * (nothing is consumed then). Throws {@link StreamDecodeError} on an unknown frame type.
   */
  next(q: ByteQueue): { msg: Message; size: number } | undefined {
    if (q.length < 1) return undefined;
    const typ = q.byteAt(0);
    switch (typ) {
      case MSG_TYPE_LINK_HEARTBEAT:
        q.skip(1);
        return { msg: { ...LINK_HEARTBEAT, entries: [] }, size: 0 };
      case MSG_TYPE_APP_ENTRIES:
        return this.nextAppEntries(q);
      case MSG_TYPE_APP: {
        if (q.length < 9) return undefined;
        const size = q.uint64At(1);
        if (size > this.limit) throw new FrameTooLargeError(size, this.limit);
        if (q.length < 9 + size) return undefined;
        q.skip(9);
        const msg = decodeMessage(q.take(size));
        this.term = msg.term;
        this.index = msg.index;
        const last = msg.entries[msg.entries.length - 1];
        if (last) this.index = last.index;
        return { msg, size };
      }
      default:
        throw new StreamDecodeError(`failed to parse type ${typ} in msgappv2 stream`);
    }
  }

  /** Frame 1: checks the whole frame is buffered before consuming any of it. */
  private nextAppEntries(q: ByteQueue): { msg: Message; size: number } | undefined {
    if (q.length < 9) return undefined;
    const count = q.uint64At(1);
    let off = 9;
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
      if (q.length < off + 8) return undefined;
      const size = q.uint64At(off);
      if (size > this.limit) throw new FrameTooLargeError(size, this.limit);
      sizes.push(size);
      off += 8 + size;
      if (q.length < off) return undefined;
    }
    if (q.length < off + 8) return undefined;
    q.skip(9);
    const msg: Message = {
      type: MessageType.MsgApp,
      from: this.remote,
      to: this.local,
      term: this.term,
      logTerm: this.term,
      index: this.index,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      context: EMPTY_BYTES,
    };
    let payload = 0;
    for (const size of sizes) {
      q.skip(8);
      msg.entries.push(decodeEntry(q.take(size)));
      payload += size;
      this.index++;
    }
    msg.commit = q.uint64At(0);
    q.skip(8);
    return { msg, size: payload };
  }
}
