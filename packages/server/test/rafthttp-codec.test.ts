/**
 * The peer stream encodings byte for byte: msg_codec (8-byte big-endian length + raftpb.Message) and
 * msgappv2 (type byte; AppEntries shortcut with etcd's term/index tracking), decoded incrementally.
 */
import { EMPTY_BYTES, type Entry, encodeEntry, encodeMessage, type Message, MessageType } from '@kv/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ByteQueue,
  encodeMessageFrame,
  FrameTooLargeError,
  isLinkHeartbeat,
  LINK_HEARTBEAT,
  MsgAppV2Decoder,
  MsgAppV2Encoder,
  nextMessageFrame,
  StreamDecodeError,
} from '../src/rafthttp/index.js';

const entry = (term: number, index: number, data: string): Entry => ({
  term,
  index,
  type: 0,
  data: new TextEncoder().encode(data),
});

const msg = (over: Partial<Message>): Message => ({
  type: MessageType.MsgApp,
  to: 2n,
  from: 1n,
  term: 0,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  context: EMPTY_BYTES,
  ...over,
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u64 = (n: number) => n.toString(16).padStart(16, '0');

/** Feeds `bytes` one byte at a time and collects what `next` yields. */
function decodeBytewise<T>(bytes: Buffer, next: (q: ByteQueue) => T | undefined): T[] {
  const q = new ByteQueue();
  const out: T[] = [];
  for (const b of bytes) {
    q.push(Buffer.from([b]));
    for (let r = next(q); r !== undefined; r = next(q)) out.push(r);
  }
  expect(q.length).toBe(0);
  return out;
}

describe('msg_codec', () => {
  it('frames a message as an 8-byte big-endian length and the protobuf', () => {
    const m = msg({ type: MessageType.MsgVote, term: 5, logTerm: 4, index: 9 });
    const body = encodeMessage(m);
    expect(hex(encodeMessageFrame(m))).toBe(u64(body.length) + hex(body));
  });

  it('a raftpb.Entry marshals in field order Type, Term, Index, Data (the fixture below relies on it)', () => {
    expect(hex(encodeEntry(entry(2, 7, 'a')))).toBe('080010021807220161');
  });

  it('round-trips messages of every kind and the link heartbeat, split at every byte', () => {
    const msgs = [
      msg({
        type: MessageType.MsgApp,
        term: 3,
        logTerm: 2,
        index: 10,
        entries: [entry(3, 11, 'x')],
        commit: 9,
      }),
      msg({ type: MessageType.MsgAppResp, term: 3, index: 11, reject: true, rejectHint: 7 }),
      msg({ type: MessageType.MsgHeartbeat, term: 3, commit: 9, context: new Uint8Array([1, 2]) }),
      { ...LINK_HEARTBEAT, entries: [] },
      msg({ type: MessageType.MsgPreVoteResp, term: 4 }),
    ];
    const bytes = Buffer.concat(msgs.map(encodeMessageFrame));
    const got = decodeBytewise(bytes, (q) => nextMessageFrame(q));
    expect(got.map((f) => f.msg)).toEqual(msgs);
    expect(got.map((f) => f.size)).toEqual(msgs.map((m) => encodeMessage(m).length));
    expect(isLinkHeartbeat(got[3]!.msg)).toBe(true);
    expect(isLinkHeartbeat(got[2]!.msg)).toBe(false);
  });

  it('refuses a frame longer than the limit before reading it', () => {
    const q = new ByteQueue();
    q.push(Buffer.from(u64(1025), 'hex'));
    expect(() => nextMessageFrame(q, 1024)).toThrow(FrameTooLargeError);
  });
});

describe('msgappv2', () => {
  it('encodes the link heartbeat as the single byte 0', () => {
    expect(hex(new MsgAppV2Encoder().encode(LINK_HEARTBEAT))).toBe('00');
  });

  it('sends a full frame first, then the AppEntries shortcut while term and index continue', () => {
    const enc = new MsgAppV2Encoder();
    const first = msg({ term: 2, logTerm: 2, index: 5, entries: [entry(2, 6, 'z')], commit: 5 });
    const body = encodeMessage(first);
    expect(hex(enc.encode(first))).toBe(`02${u64(body.length)}${hex(body)}`);
    // Continues at index 6 with term == logTerm == 2: type 1, count, (size, entry)*, commit.
    const second = msg({ term: 2, logTerm: 2, index: 6, entries: [entry(2, 7, 'a')], commit: 6 });
    expect(hex(enc.encode(second))).toBe(`01${u64(1)}${u64(9)}080010021807220161${u64(6)}`);
    expect(enc.lastPayloadBytes).toBe(9);
    // A heartbeat in between does not disturb the tracking.
    expect(hex(enc.encode(LINK_HEARTBEAT))).toBe('00');
    const third = msg({ term: 2, logTerm: 2, index: 7, entries: [], commit: 7 });
    expect(hex(enc.encode(third))).toBe(`01${u64(0)}${u64(7)}`);
    // A new term breaks the chain: full frame again.
    const fourth = msg({ term: 3, logTerm: 2, index: 7, entries: [entry(3, 8, 'b')], commit: 7 });
    expect(enc.encode(fourth)[0]).toBe(2);
  });

  it('an empty first MsgApp at term 0 index 0 already takes the shortcut (etcd starts from zero)', () => {
    const m = msg({ term: 0, logTerm: 0, index: 0, commit: 0 });
    expect(hex(new MsgAppV2Encoder().encode(m))).toBe(`01${u64(0)}${u64(0)}`);
  });

  it('decodes what it encodes, rebuilding from/to/term/logTerm/index, across arbitrary splits', () => {
    const enc = new MsgAppV2Encoder();
    const sent = [
      msg({ term: 2, logTerm: 1, index: 4, entries: [entry(2, 5, 'a'), entry(2, 6, 'bb')], commit: 4 }),
      msg({ term: 2, logTerm: 2, index: 6, entries: [entry(2, 7, 'ccc'), entry(2, 8, '')], commit: 6 }),
      { ...LINK_HEARTBEAT, entries: [] },
      msg({ term: 2, logTerm: 2, index: 8, entries: [entry(2, 9, 'd')], commit: 8 }),
      msg({ term: 2, logTerm: 2, index: 9, entries: [], commit: 9 }),
      msg({ term: 3, logTerm: 2, index: 9, entries: [entry(3, 10, 'e')], commit: 9, reject: false }),
    ];
    const bytes = Buffer.concat(sent.map((m) => enc.encode(m)));
    expect(bytes[1 + 8 + encodeMessage(sent[0]!).length]).toBe(1); // the second one used the shortcut
    const dec = new MsgAppV2Decoder(2n, 1n);
    const got = decodeBytewise(bytes, (q) => dec.next(q)).map((f) => f.msg);
    expect(got).toEqual(sent);
  });

  it('refuses an unknown frame type', () => {
    const q = new ByteQueue();
    q.push(Buffer.from([7]));
    expect(() => new MsgAppV2Decoder(2n, 1n).next(q)).toThrow(StreamDecodeError);
  });
});

describe('ByteQueue', () => {
  it('takes frames spanning chunks and reads uint64s across chunk borders', () => {
    const q = new ByteQueue();
    q.push(Buffer.from('0000', 'hex'));
    q.push(Buffer.from('00000001', 'hex'));
    q.push(Buffer.from('0203ff', 'hex'));
    expect(q.uint64At(0)).toBe(0x10203);
    expect(q.byteAt(8)).toBe(0xff);
    expect(hex(q.take(3))).toBe('000000');
    expect(q.length).toBe(6);
    expect(hex(q.take(6))).toBe('00010203ff'.padStart(12, '0'));
  });

  it('takes, skips and reads exactly what a flat copy of the pushed bytes holds (property)', () => {
    const op = fc.oneof(
      fc.record({ push: fc.uint8Array({ maxLength: 9 }) }),
      fc.record({ take: fc.nat(12) }),
      fc.record({ skip: fc.nat(12) }),
      fc.record({ byteAt: fc.nat(12) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const q = new ByteQueue();
        let flat: number[] = [];
        for (const o of ops) {
          if ('push' in o) {
            q.push(Buffer.from(o.push));
            flat.push(...o.push);
          } else if ('take' in o) {
            if (o.take > flat.length) expect(() => q.take(o.take)).toThrow(RangeError);
            else {
              expect([...q.take(o.take)]).toEqual(flat.slice(0, o.take));
              flat = flat.slice(o.take);
            }
          } else if ('skip' in o) {
            if (o.skip > flat.length) expect(() => q.skip(o.skip)).toThrow(RangeError);
            else {
              q.skip(o.skip);
              flat = flat.slice(o.skip);
            }
          } else if (o.byteAt < flat.length) expect(q.byteAt(o.byteAt)).toBe(flat[o.byteAt]);
          expect(q.length).toBe(flat.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('stream writer chunks', () => {
  it('chunkOf frames a batch as one HTTP/1.1 chunk (hex size, CRLF, bytes, CRLF) that the HTTP parser reads back', async () => {
    const { chunkOf } = await import('../src/rafthttp/stream-writer.js');
    const frames = [Buffer.from([0]), encodeMessageFrame(LINK_HEARTBEAT), Buffer.alloc(300, 7)];
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    const chunk = chunkOf(frames, bytes);
    expect(chunk.toString('latin1', 0, chunk.indexOf('\r\n'))).toBe(bytes.toString(16));
    expect(chunk.subarray(chunk.indexOf('\r\n') + 2, chunk.length - 2)).toEqual(Buffer.concat(frames));
    expect(chunk.subarray(chunk.length - 2).toString('latin1')).toBe('\r\n');
    // Node's own client parses a response made of such chunks into the same bytes.
    const { createServer, get } = await import('node:http');
    const server = createServer((_req, res) => {
      res.writeHead(200);
      res.flushHeaders();
      res.socket!.write(chunk);
      res.socket!.write(chunkOf([Buffer.from('tail')], 4));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const body = await new Promise<Buffer>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve(Buffer.concat(parts)));
      }).on('error', reject);
    });
    server.close();
    expect(body).toEqual(Buffer.concat([...frames, Buffer.from('tail')]));
  });
});
