/** Edge cases: malformed input fails with typed errors (never hangs or yields garbage), aliasing, 64-bit, JSON. */
import { describe, expect, it } from 'vitest';
import {
  Compare,
  Compare_CompareTarget,
  KeyValue,
  ProtoDecodeError,
  ProtoJsonError,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeResponse,
  TxnRequest,
  WatchRequest,
} from '../src/api/index.js';
import { rng } from './proto-fixtures.js';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('binary decoding errors', () => {
  it('rejects truncated varints, lengths and fixed fields', () => {
    expect(() => PutRequest.decode(bytes(0x18, 0xff, 0xff))).toThrow(ProtoDecodeError); // lease varint cut short
    expect(() => PutRequest.decode(bytes(0x0a, 0x05, 0x61))).toThrow(ProtoDecodeError); // key len 5, 1 byte
    expect(() => PutRequest.decode(bytes(0x0a))).toThrow(ProtoDecodeError); // tag without payload
    expect(() => PutRequest.decode(bytes(0x79, 1, 2, 3))).toThrow(ProtoDecodeError); // unknown fixed64 cut short
  });

  it('rejects invalid wire types, field number 0 and over-long varints', () => {
    expect(() => PutRequest.decode(bytes(0x0f))).toThrow(/invalid wire type 7/);
    expect(() => PutRequest.decode(bytes(0x02, 0x00))).toThrow(/field number 0/);
    const eleven = bytes(0x18, ...new Array(10).fill(0xff), 0x01);
    expect(() => PutRequest.decode(eleven)).toThrow(/more than 10 bytes/);
  });

  it('rejects a nested message whose content overruns its length prefix', () => {
    // RangeResponse.kvs (field 2) of length 2 containing KeyValue.key (field 1) of length 3.
    expect(() => RangeResponse.decode(bytes(0x12, 0x02, 0x0a, 0x03, 0x61, 0x62, 0x63))).toThrow(
      ProtoDecodeError,
    );
  });

  it('names the message type in the error and rejects non-bytes input', () => {
    expect(() => KeyValue.decode(bytes(0x0a, 0x09))).toThrow(/^mvccpb\.KeyValue: truncated/);
    expect(() => KeyValue.decode('nope' as unknown as Uint8Array)).toThrow(ProtoDecodeError);
  });

  it('skips unknown fields of every wire type, including groups', () => {
    const known = PutRequest.encode({ key: new TextEncoder().encode('k'), lease: 7n });
    const unknown = bytes(
      0xa0,
      0x06,
      0x96,
      0x01, // field 100 varint
      0xa9,
      0x06,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 101 fixed64
      0xb2,
      0x06,
      0x02,
      0xaa,
      0xbb, // field 102 bytes
      0xbd,
      0x06,
      1,
      2,
      3,
      4, // field 103 fixed32
      0xc3,
      0x06,
      0x08,
      0x01,
      0xc4,
      0x06, // field 104 group { varint } end group
    );
    const merged = new Uint8Array([...unknown, ...known]);
    expect(PutRequest.decode(merged)).toEqual(
      PutRequest.create({ key: new TextEncoder().encode('k'), lease: 7n }),
    );
    expect(() => PutRequest.decode(bytes(0xc3, 0x06, 0xcc, 0x06))).toThrow(/end-group/);
  });

  it('random garbage either decodes or throws ProtoDecodeError, quickly', () => {
    const r = rng(42);
    const started = Date.now();
    let threw = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = new Uint8Array(Math.floor(r() * 40));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
      for (const codec of [TxnRequest, RangeResponse, WatchRequest]) {
        try {
          codec.decode(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtoDecodeError);
          threw++;
        }
      }
    }
    expect(threw).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('last oneof member on the wire wins', () => {
    const version = Compare.encode({ version: 5 });
    const modRevision = Compare.encode({ modRevision: 9 });
    const both = Compare.decode(new Uint8Array([...version, ...modRevision]));
    expect(both.modRevision).toBe(9);
    expect(both.version).toBeUndefined();
  });
});

describe('64-bit and default handling', () => {
  it('encodes negative int64 as ten bytes and round-trips the safe integer range', () => {
    const neg = RangeRequest.encode({ revision: -1 });
    expect(neg).toEqual(bytes(0x20, ...new Array(9).fill(0xff), 0x01));
    for (const v of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, -(2 ** 32), 2 ** 31 - 1]) {
      expect(RangeRequest.decode(RangeRequest.encode({ revision: v })).revision).toBe(v);
    }
  });

  it('skips proto3 defaults but keeps oneof members set to a default', () => {
    expect(PutRequest.encode({ key: new Uint8Array(0), lease: 0n, prevKv: false })).toEqual(bytes());
    expect(Compare.encode({ target: Compare_CompareTarget.VERSION, version: 0 })).toEqual(bytes(0x20, 0x00));
    expect(Compare.decode(bytes(0x20, 0x00)).version).toBe(0);
  });
});

describe('JSON mapping', () => {
  it('uses proto names, strings for 64-bit, base64 for bytes, names for enums', () => {
    const json = RangeRequest.toJSON({
      key: new TextEncoder().encode('foo'),
      rangeEnd: new Uint8Array([0]),
      limit: 10,
      sortOrder: RangeRequest_SortOrder.DESCEND,
      keysOnly: true,
    });
    expect(json).toEqual({
      key: 'Zm9v',
      range_end: 'AA==',
      limit: '10',
      sort_order: 'DESCEND',
      keys_only: true,
    });
  });

  it('accepts camelCase, numbers, enum numbers, URL-safe base64 and null', () => {
    const m = RangeRequest.fromJSON({
      key: '-_8',
      rangeEnd: null,
      limit: 10,
      sortOrder: 2,
      keysOnly: 'true',
    });
    expect(m.key).toEqual(bytes(0xfb, 0xff));
    expect(m.rangeEnd).toEqual(new Uint8Array(0));
    expect(m).toMatchObject({ limit: 10, sortOrder: RangeRequest_SortOrder.DESCEND, keysOnly: true });
    expect(
      TxnRequest.fromJSON({ compare: [{ target: 'CREATE', key: 'Zm9v', createRevision: '0' }] }).compare[0],
    ).toMatchObject({ target: Compare_CompareTarget.CREATE, createRevision: 0 });
  });

  it('rejects wrong JSON types with ProtoJsonError naming the path', () => {
    expect(() => RangeRequest.fromJSON({ limit: 'ten' })).toThrow(/etcdserverpb\.RangeRequest\.limit/);
    expect(() => RangeRequest.fromJSON({ key: '***' })).toThrow(ProtoJsonError);
    expect(() => RangeRequest.fromJSON({ sort_order: 'SIDEWAYS' })).toThrow(/unknown enum value/);
    expect(() => RangeRequest.fromJSON([])).toThrow(ProtoJsonError);
    expect(() => TxnRequest.fromJSON({ success: [{ request_put: { lease: 1.5 } }] })).toThrow(
      /success\[0\]\.request_put\.lease/,
    );
  });
});

describe('decoded bytes never alias the caller buffer', () => {
  it('keeps values intact when the input is overwritten or reused', () => {
    const input = PutRequest.encode({
      key: new TextEncoder().encode('key'),
      value: new TextEncoder().encode('value'),
    });
    const decoded = PutRequest.decode(input);
    input.fill(0);
    expect(new TextDecoder().decode(decoded.key)).toBe('key');
    expect(new TextDecoder().decode(decoded.value)).toBe('value');
  });

  it('keeps earlier results intact across many decodes (slab rollover) and large inputs', () => {
    const kept: { n: number; value: Uint8Array }[] = [];
    for (let n = 0; n < 3000; n++) {
      const big = n % 100 === 0;
      const value = new Uint8Array(big ? 5000 : 1 + (n % 50)).fill(n & 0xff);
      const buf = PutRequest.encode({ key: new Uint8Array([1]), value });
      kept.push({ n, value: PutRequest.decode(buf).value });
      buf.fill(0xee);
    }
    for (const { n, value } of kept) {
      expect(value.length).toBe(n % 100 === 0 ? 5000 : 1 + (n % 50));
      expect(value.every((b) => b === (n & 0xff))).toBe(true);
    }
  });

  it('returns plain Uint8Arrays even for Buffer input', () => {
    const decoded = PutRequest.decode(Buffer.from(PutRequest.encode({ key: new Uint8Array([1, 2]) })));
    expect(decoded.key).toEqual(new Uint8Array([1, 2]));
    expect(Buffer.isBuffer(decoded.key)).toBe(false);
  });
});

describe('hostile nesting', () => {
  it('turns stack exhaustion on absurdly deep nesting into ProtoDecodeError', () => {
    // TxnRequest.success (field 2) -> RequestOp.request_txn (field 4) -> TxnRequest ... 200k levels deep.
    // Lengths are written innermost first; each level adds a tag byte and a varint length.
    const parts: Uint8Array[] = [];
    let len = 0;
    const varint = (n: number) => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    for (let depth = 0; depth < 200_000; depth++) {
      const tag = depth % 2 === 0 ? 0x22 : 0x12; // RequestOp.request_txn, then TxnRequest.success
      const head = new Uint8Array([tag, ...varint(len)]);
      parts.push(head);
      len += head.length;
    }
    const inner = new Uint8Array(len);
    let pos = 0;
    for (let i = parts.length - 1; i >= 0; i--) {
      inner.set(parts[i]!, pos);
      pos += parts[i]!.length;
    }
    expect(() => TxnRequest.decode(inner)).toThrow(ProtoDecodeError);
    expect(() => TxnRequest.decode(inner)).toThrow(/call stack/);
    // The codec still works afterwards.
    expect(TxnRequest.decode(TxnRequest.encode({ success: [{ requestTxn: {} }] })).success).toHaveLength(1);
  });

  it('encodes and base64s large values', () => {
    const value = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const json = PutRequest.toJSON({ value });
    expect(json.value).toBe(Buffer.from(value).toString('base64'));
    expect(PutRequest.fromJSON(json).value).toEqual(value);
  });
});
