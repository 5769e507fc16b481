/**
 * `-w protobuf`: etcdctl writes the response message's protobuf bytes. Unary responses are printed
 * as the exact bytes the server sent (captured by {@link captureResponses}); watch responses, which
 * arrive on a stream, are encoded here. The generated codecs encode 64-bit fields from JS numbers, so
 * a real etcd's random 64-bit ids (bigints in @kv/client) need this small writer of our own.
 */
import type { Id, KvClient, WatchResponse } from '@kv/client';

/** Appends protobuf fields in field-number order, as Go's gogoproto marshaller does. */
class PbWriter {
  private readonly parts: number[] = [];

  private varint(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }

  /** A varint field (int64/uint64/enum/bool); zero is omitted (proto3). */
  uint(field: number, v: Id | boolean | undefined): this {
    const n = typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v ?? 0);
    if (n === 0n) return this;
    this.varint(BigInt(field << 3));
    this.varint(n);
    return this;
  }

  /** A length-delimited field; empty bytes are omitted unless `keepEmpty` (embedded messages). */
  bytes(field: number, b: Uint8Array | undefined, keepEmpty = false): this {
    if (b === undefined || (b.length === 0 && !keepEmpty)) return this;
    this.varint(BigInt((field << 3) | 2));
    this.varint(BigInt(b.length));
    for (const x of b) this.parts.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

type Header = WatchResponse['header'];
type KeyValue = NonNullable<WatchResponse['events'][number]['kv']>;

/** etcdserverpb.ResponseHeader. */
export function encodeHeader(h: NonNullable<Header>): Uint8Array {
  return new PbWriter()
    .uint(1, h.clusterId)
    .uint(2, h.memberId)
    .uint(3, h.revision)
    .uint(4, h.raftTerm)
    .finish();
}

/**
 * A response that holds only a header (MoveLeaderResponse): field 1, or nothing without a header.
 *
 * @example
 * ```ts
 * process.stdout.write(encodeHeaderOnlyResponse(res.header));
 * ```
 */
export function encodeHeaderOnlyResponse(h: Header): Uint8Array {
  return h ? new PbWriter().bytes(1, encodeHeader(h), true).finish() : new Uint8Array();
}

function encodeKv(kv: KeyValue): Uint8Array {
  return new PbWriter()
    .bytes(1, kv.key)
    .uint(2, kv.createRevision)
    .uint(3, kv.modRevision)
    .uint(4, kv.version)
    .bytes(5, kv.value)
    .uint(6, kv.lease)
    .finish();
}

/**
 * The WatchResponse etcdctl marshals for `watch -w protobuf`: header, canceled/created flags,
 * compact revision and events (no watch id, no cancel reason: etcdctl builds it without them).
 *
 * @example
 * ```ts
 * for await (const res of watcher) process.stdout.write(encodeWatchResponse(res));
 * ```
 */
export function encodeWatchResponse(res: WatchResponse): Uint8Array {
  const w = new PbWriter();
  if (res.header) w.bytes(1, encodeHeader(res.header), true);
  w.uint(3, res.created).uint(4, res.canceled).uint(5, res.compactRevision);
  for (const e of res.events) {
    const ev = new PbWriter().uint(1, e.type);
    if (e.kv) ev.bytes(2, encodeKv(e.kv), true);
    if (e.prevKv) ev.bytes(3, encodeKv(e.prevKv), true);
    w.bytes(11, ev.finish(), true);
  }
  return w.finish();
}

/**
 * A RangeResponse (header, kvs, more, count): what etcdctl prints for an observed election leader.
 *
 * @example
 * ```ts
 * process.stdout.write(encodeRangeResponse(res.header, [res.kv], false, 0));
 * ```
 */
export function encodeRangeResponse(h: Header, kvs: KeyValue[], more: boolean, count: number): Uint8Array {
  const w = new PbWriter();
  if (h) w.bytes(1, encodeHeader(h), true);
  for (const kv of kvs) w.bytes(2, encodeKv(kv), true);
  return w.uint(3, more).uint(4, count).finish();
}

/**
 * The first length-delimited field 1 of a message: for every etcd response this is its
 * ResponseHeader. etcdctl prints only the header for the lease responses (clientv3 embeds the header,
 * whose Marshal method is what its printer finds).
 */
export function headerBytesOf(message: Uint8Array): Uint8Array {
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 1;
    for (;;) {
      const b = message[pos++] as number;
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
      shift *= 128;
    }
  };
  while (pos < message.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (tag >> 3 === 1) return message.subarray(pos, pos + len);
      pos += len;
    } else break;
  }
  return new Uint8Array();
}

/**
 * Records the raw bytes of every unary response `client` receives from now on, so `-w protobuf` can
 * print exactly what the server sent. Returns a getter for the latest response's bytes.
 */
export function captureResponses(client: KvClient): () => Uint8Array | undefined {
  let last: Uint8Array | undefined;
  const conn = client.conn;
  const unary = conn.unary.bind(conn);
  conn.unary = ((def, req, opts) =>
    unary(
      {
        ...def,
        responseDeserialize: (b: Buffer) => {
          last = Uint8Array.from(b);
          return def.responseDeserialize(b);
        },
      },
      req,
      opts,
    )) as typeof conn.unary;
  return () => last;
}
