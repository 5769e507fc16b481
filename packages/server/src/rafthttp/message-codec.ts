/**
 * etcd's msg_codec: every message is an 8-byte big-endian length followed by the marshaled
 * raftpb.Message. Used by the "message" stream, the snapshot request's first part, and (as the
 * stream writers' keep-alive) the link heartbeat: an empty MsgHeartbeat with from = to = 0.
 */
import { decodeMessage, EMPTY_BYTES, encodeMessage, type Message, MessageType } from '@kv/raft';
import type { ByteQueue } from './byte-queue.js';
import { FrameTooLargeError } from './errors.js';

/** etcd's readBytesLimit: a message frame on a stream may not exceed 512 MiB. */
export const READ_BYTES_LIMIT = 512 * 1024 * 1024;

/** The link heartbeat a stream writer sends when idle (etcd's linkHeartbeatMessage). */
export const LINK_HEARTBEAT: Readonly<Message> = Object.freeze({
  type: MessageType.MsgHeartbeat,
  to: 0n,
  from: 0n,
  term: 0,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  context: EMPTY_BYTES,
});

/**
 * A MsgHeartbeat between no one: keeps a stream's read deadline from expiring; never stepped.
 * @example
 * ```ts
 * if (!isLinkHeartbeat(msg)) sink.process(msg);
 * ```
 */
export function isLinkHeartbeat(m: Message): boolean {
  return m.type === MessageType.MsgHeartbeat && m.from === 0n && m.to === 0n;
}

/** Writes `n` as an 8-byte big-endian integer at `off`. */
export function writeUint64BE(buf: Buffer, n: number, off: number): void {
  buf.writeUInt32BE(Math.floor(n / 2 ** 32), off);
  buf.writeUInt32BE(n >>> 0, off + 4);
}

/**
 * One framed message: length prefix + protobuf.
 * @example
 * ```ts
 * socket.write(encodeMessageFrame(msg));
 * ```
 */
export function encodeMessageFrame(m: Message): Buffer {
  const body = encodeMessage(m);
  const out = Buffer.allocUnsafe(8 + body.length);
  writeUint64BE(out, body.length, 0);
  out.set(body, 8);
  return out;
}

/** A decoded message and the size of its protobuf (what etcd's byte metrics count). */
export interface DecodedFrame {
  msg: Message;
  size: number;
}

/**
 * Incremental msg_codec decoder over a {@link ByteQueue}: returns the next complete message, or
 * undefined when more bytes are needed. Throws {@link FrameTooLargeError} past `limit`.
 * @example
 * ```ts
 * q.push(chunk);
 * for (let f = nextMessageFrame(q); f; f = nextMessageFrame(q)) if (!isLinkHeartbeat(f.msg)) step(f.msg);
 * ```
 */
export function nextMessageFrame(q: ByteQueue, limit = READ_BYTES_LIMIT): DecodedFrame | undefined {
  if (q.length < 8) return undefined;
  const size = q.uint64At(0);
  if (size > limit) throw new FrameTooLargeError(size, limit);
  if (q.length < 8 + size) return undefined;
  q.skip(8);
  const body = q.take(size);
  return { msg: decodeMessage(body), size };
}
