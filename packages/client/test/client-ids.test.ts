/**
 * Exact 64-bit ids in the client (ids.ts, methods.ts, txn-encoding.ts) on hand-built wire bytes: lease
 * and watch ids come from bigint codecs, member/cluster ids from the wire re-read.
 */
import { describe, expect, it } from 'vitest';
import { LeaseGrantResponse, MemberListResponse, PutRequest, TxnRequest } from '../src/api/index.js';
import { exactId, parseHexId } from '../src/index.js';
import { Cluster, KV, Lease } from '../src/methods.js';

/** Protobuf varint bytes of a bigint. */
function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const tag = (field: number, wire: number) => varint(BigInt(field * 8 + wire));
const lenField = (field: number, body: number[]) => [
  ...tag(field, 2),
  ...varint(BigInt(body.length)),
  ...body,
];

const BIG = 0x694d7a2f8b3c1a04n; // a typical etcd lease/member id, far above 2^53
const CLUSTER = 0xcdf818194e3a8c32n;

describe('exact ids', () => {
  it('parses hex ids and keeps safe ones as numbers', () => {
    expect(parseHexId('694d7a2f8b3c1a04')).toBe(BIG);
    expect(parseHexId('1234abcd')).toBe(0x1234abcd);
    expect(exactId(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(exactId(2n ** 53n + 1n)).toBe(2n ** 53n + 1n);
    expect(() => parseHexId('zz')).toThrow(RangeError);
  });

  it('patches top-level and header ids of a decoded response', () => {
    const header = lenField(1, [...tag(1, 0), ...varint(CLUSTER), ...tag(3, 0), ...varint(7n)]);
    const bytes = Buffer.from([...header, ...tag(2, 0), ...varint(BIG), ...tag(3, 0), ...varint(60n)]);
    expect(LeaseGrantResponse.decode(bytes).ID).toBe(BIG); // generated as bigint: exact
    const exact = Lease.leaseGrant.responseDeserialize(bytes);
    expect(exact.ID).toBe(BIG);
    expect(exact.TTL).toBe(60);
    expect(exact.header?.clusterId).toBe(CLUSTER);
    expect(exact.header?.revision).toBe(7);
  });

  it('patches ids inside repeated nested messages, by position', () => {
    const m1 = lenField(2, [...tag(1, 0), ...varint(5n), ...lenField(2, [...Buffer.from('small')])]);
    const m2 = lenField(2, [...tag(1, 0), ...varint(BIG), ...lenField(2, [...Buffer.from('big')])]);
    const bytes = Buffer.from([...m1, ...m2]);
    const res = Cluster.memberList.responseDeserialize(bytes);
    expect(MemberListResponse.decode(bytes).members).toHaveLength(2);
    expect(res.members.map((m) => [m.name, m.ID])).toEqual([
      ['small', 5],
      ['big', BIG],
    ]);
  });

  it('encodes lease ids given as bigint or number exactly, like the generated encoder', () => {
    const bytes = KV.put.requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v'), lease: BIG });
    const decoded = PutRequest.decode(bytes);
    expect(decoded.lease).toBe(BIG);
    expect(Buffer.from(decoded.key).toString()).toBe('k');
    expect(Buffer.from(decoded.value).toString()).toBe('v');
    const small = KV.put.requestSerialize({ key: Buffer.from('k'), lease: 42 });
    expect(PutRequest.decode(small).lease).toBe(42n);
    expect(
      Buffer.from(small).equals(Buffer.from(PutRequest.encode({ key: Buffer.from('k'), lease: 42n }))),
    ).toBe(true);
    // A number that is not exact would name another lease: refused instead of rounded.
    expect(() => KV.put.requestSerialize({ key: Buffer.from('k'), lease: 2 ** 60 })).toThrow(RangeError);
  });

  it('keeps lease ids exact inside nested transactions and lease compares', () => {
    const bytes = KV.txn.requestSerialize({
      compare: [{ key: Buffer.from('k'), target: 4, lease: BIG + 1n }],
      success: [{ requestTxn: { success: [{ requestPut: { key: Buffer.from('k'), lease: 7 as never } }] } }],
      failure: [{ requestPut: { key: Buffer.from('k'), lease: BIG } }],
    });
    const t = TxnRequest.decode(bytes);
    expect(t.compare[0]!.lease).toBe(BIG + 1n);
    expect(t.success[0]!.requestTxn!.success[0]!.requestPut!.lease).toBe(7n);
    expect(t.failure[0]!.requestPut!.lease).toBe(BIG);
  });

  it('answers lease ids as numbers when exact and bigints above 2^53', () => {
    const leases = [
      ...lenField(2, [...tag(1, 0), ...varint(5n)]),
      ...lenField(2, [...tag(1, 0), ...varint(BIG)]),
    ];
    const res = Lease.leaseLeases.responseDeserialize(Buffer.from(leases));
    expect(res.leases.map((l) => l.ID)).toEqual([5, BIG]);
  });
});
