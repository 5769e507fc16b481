import { describe, expect, it } from 'vitest';
import * as pb from '../src/gen/walpb.js';
import { crc32c } from '../src/index.js';
import {
  BatchEncoder,
  decodeEntry,
  decodeSnapshot,
  decodeState,
  entryIndex,
  frameSize,
  HEADER_SIZE,
} from '../src/record.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('crc32c', () => {
  it('matches the standard check values', () => {
    expect(crc32c(0, ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(0, new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4
    expect(crc32c(0, new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(0, new Uint8Array(0))).toBe(0);
  });

  it('chains: crc(a ++ b) = crc(crc(a), b), for every split of inputs of many lengths', () => {
    const data = new Uint8Array(100).map((_, i) => (i * 37 + 11) & 0xff);
    const whole = crc32c(0, data);
    for (let split = 0; split <= data.length; split++) {
      expect(crc32c(crc32c(0, data, 0, split), data, split)).toBe(whole);
    }
  });

  it('agrees with a bit-at-a-time reference on random inputs', () => {
    const reference = (bytes: Uint8Array): number => {
      let c = 0xffffffff;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    for (let len = 0; len < 300; len += 7) {
      const bytes = new Uint8Array(len).map(() => Math.floor(Math.random() * 256));
      expect(crc32c(0, bytes)).toBe(reference(bytes));
    }
  });
});

describe('record framing', () => {
  it('frames are 8-byte aligned and payloads decode back (protobuf wire format, raftpb field numbers)', () => {
    const enc = new BatchEncoder();
    enc.reset(0);
    const entry = { term: 3, index: 2 ** 40 + 7, type: 1, data: ascii('hello') };
    enc.addEntry(entry);
    const bytes = enc.bytes();
    expect(bytes.length % 8).toBe(0);
    const len = bytes[0]! | (bytes[1]! << 8);
    expect(bytes.length).toBe(frameSize(len));
    expect(decodeEntry(bytes, HEADER_SIZE, HEADER_SIZE + len)).toEqual(entry);
    // Same bytes a protobuf encoder produces for raftpb.Entry{Type:1, Term:3, Index:2^40+7, Data:"hello"}.
    expect([...bytes.subarray(HEADER_SIZE, HEADER_SIZE + len)]).toEqual([
      0x08, 0x01, 0x10, 0x03, 0x18, 0x87, 0x80, 0x80, 0x80, 0x80, 0x20, 0x22, 0x05, 0x68, 0x65, 0x6c, 0x6c,
      0x6f,
    ]);
  });

  it('hard state and snapshot payloads round-trip', () => {
    const enc = new BatchEncoder();
    enc.reset(0);
    enc.addState({ term: 5, vote: 2n, commit: 2 ** 50 });
    let len = enc.bytes()[0]!;
    expect(decodeState(enc.bytes(), HEADER_SIZE, HEADER_SIZE + len)).toEqual({
      term: 5,
      vote: 2n,
      commit: 2 ** 50,
    });
    enc.reset(0);
    enc.addSnapshot({ index: 9, term: 4, confState: ascii('cs') });
    len = enc.bytes()[0]!;
    expect(decodeSnapshot(enc.bytes(), HEADER_SIZE, HEADER_SIZE + len)).toEqual({
      index: 9,
      term: 4,
      confState: ascii('cs'),
    });
  });

  it('decoders reject truncated payloads', () => {
    const enc = new BatchEncoder();
    enc.reset(0);
    enc.addEntry({ term: 1, index: 1, type: 0, data: ascii('abcdef') });
    const len = enc.bytes()[0]!;
    expect(() => decodeEntry(enc.bytes(), HEADER_SIZE, HEADER_SIZE + len - 2)).toThrow();
  });
});

describe('entry payloads with fields kv does not know', () => {
  // raftpb.Entry (Type=1, Term=2, Index=3, Data=4) preceded by an unknown length-delimited field 9 and an
  // unknown fixed64 field 10: decoders skip them (a newer writer's fields must not shift the parse).
  const payload = Uint8Array.from([
    0x4a,
    0x03,
    0x01,
    0x02,
    0x03, // field 9, 3 bytes
    0x51,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 10, fixed64
    0x08,
    0x00, // type 0
    0x10,
    0x07, // term 7
    0x18,
    0xac,
    0x02, // index 300
    0x22,
    0x02,
    0x68,
    0x69, // data "hi"
  ]);

  it('decodeEntry and entryIndex skip them', () => {
    expect(decodeEntry(payload, 0, payload.length)).toEqual({
      type: 0,
      term: 7,
      index: 300,
      data: ascii('hi'),
    });
    expect(entryIndex(payload, 0, payload.length)).toBe(300);
  });

  it('entryIndex rejects what decodeEntry rejects', () => {
    for (let len = 1; len < payload.length; len++) {
      let full: unknown;
      let index: unknown;
      try {
        decodeEntry(payload, 0, len);
      } catch (err) {
        full = err;
      }
      try {
        entryIndex(payload, 0, len);
      } catch (err) {
        index = err;
      }
      expect(index === undefined).toBe(full === undefined);
    }
  });
});

describe('hand-written payloads agree with the generated walpb codec (proto/wal/walpb.proto)', () => {
  /** Encodes one record with the hand-written encoder and returns its payload bytes. */
  function payloadOf(add: (enc: BatchEncoder) => void): Uint8Array {
    const enc = new BatchEncoder();
    enc.reset(0);
    add(enc);
    const b = enc.bytes();
    const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
    return b.slice(HEADER_SIZE, HEADER_SIZE + len);
  }

  it('Entry, HardState, Snapshot, Crc and BatchEnd decode with the generated codec', () => {
    const entry = { term: 7, index: 2 ** 45 + 3, type: 1, data: ascii('payload') };
    expect(pb.Entry.decode(payloadOf((e) => e.addEntry(entry)))).toEqual(entry);
    const hs = { term: 9, vote: 3n, commit: 2 ** 33 };
    expect(pb.HardState.decode(payloadOf((e) => e.addState(hs)))).toEqual(hs);
    const snap = { index: 100, term: 4, confState: ascii('voters') };
    expect(pb.Snapshot.decode(payloadOf((e) => e.addSnapshot(snap)))).toEqual(snap);
    expect(pb.Crc.decode(payloadOf((e) => e.addCrc(0xdeadbeef)))).toEqual({ value: 0xdeadbeef });
  });

  it('generated encodings decode with the hand-written decoders', () => {
    const entry = { term: 2, index: 99, type: 0, data: ascii('x') };
    const bytes = pb.Entry.encode(entry);
    expect(decodeEntry(bytes, 0, bytes.length)).toEqual(entry);
    const hs = pb.HardState.encode({ term: 1, vote: 2n, commit: 3 });
    expect(decodeState(hs, 0, hs.length)).toEqual({ term: 1, vote: 2n, commit: 3 });
    // The vote is a member id: every uint64 survives both ways (etcd ids are mostly above 2^53).
    for (const vote of [0xffffffffffffffffn, 0x8e9e05c52164694dn, 2n ** 53n + 1n, 0xffffffffn + 1n]) {
      const big = { term: 4, vote, commit: 7 };
      const enc = pb.HardState.encode(big);
      expect(decodeState(enc, 0, enc.length)).toEqual(big);
      expect(pb.HardState.decode(payloadOf((e) => e.addState(big)))).toEqual(big);
    }
    const sn = pb.Snapshot.encode({ index: 5, term: 6 });
    expect(decodeSnapshot(sn, 0, sn.length)).toMatchObject({ index: 5, term: 6 });
  });

  it('BatchEnd payload fields match the .proto', () => {
    const enc = new BatchEncoder();
    enc.reset(0x1234);
    enc.addBatchEnd(4096);
    const b = enc.bytes();
    const len = b[0]!;
    expect(pb.BatchEnd.decode(b.slice(HEADER_SIZE, HEADER_SIZE + len))).toEqual({
      prevCrc: 0x1234,
      batchStart: 4096,
      records: 0,
    });
  });
});
