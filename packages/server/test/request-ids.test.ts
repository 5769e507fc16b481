/**
 * Request and lease ids (etcdserver/ids.ts IdGenerator, etcd's pkg/idutil layout), the lease bucket's
 * records (lease-record.ts: exact ids, old numeric records still read) and exact big integers in
 * gateway request bodies (gateway/exact-json.ts).
 */
import { describe, expect, it } from 'vitest';
import { IdGenerator } from '../src/etcdserver/ids.js';
import { decodeLeaseRecord, encodeLeaseRecord, leaseBucketKey } from '../src/etcdserver/lease-record.js';
import { quoteLargeIntegers } from '../src/gateway/exact-json.js';

describe('IdGenerator (etcd idutil layout)', () => {
  // A member id as etcd computes them (sha1-derived, all 64 bits used) and a fixed start time.
  const member = 0x8e9e05c52164694dn;
  const startMs = 1_700_000_000_123;

  it('lays out member prefix | 40-bit ms timestamp | 8-bit counter, counting up from the start time', () => {
    const gen = new IdGenerator(member, startMs);
    const first = gen.next();
    // etcd: prefix = uint16(member) << 48, suffix = (unixMilli & (2^40-1)) << 8, Next = prefix | ++suffix.
    const want = (0x694dn << 48n) | (((BigInt(startMs) & (2n ** 40n - 1n)) << 8n) + 1n);
    expect(first).toBe(want);
    expect(gen.next()).toBe(want + 1n);
    expect(first).toBeGreaterThan(2n ** 53n);
  });

  it('takes a number member id too (its low 16 bits)', () => {
    expect(new IdGenerator(0x2164694d, startMs).next()).toBe(new IdGenerator(member, startMs).next());
  });

  it('lets the counter carry into the timestamp and wraps within 48 bits, never touching the prefix', () => {
    const gen = new IdGenerator(0xabcdn, 2 ** 40 - 1); // the largest 40-bit timestamp
    const ids = Array.from({ length: 300 }, () => gen.next());
    for (const id of ids) expect(id >> 48n).toBe(0xabcdn);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives lease ids masked to 63 bits, never 0 and never one already taken', () => {
    // Member prefix 0x8000 with a zero timestamp: the first ids mask to 1, 2, 3...; and a suffix that
    // wraps to 0 under prefix 0x8000 would mask to 0, which etcd skips (NoLease).
    const gen = new IdGenerator(0x8000n, 0);
    expect(gen.nextLeaseId()).toBe(1n);
    const taken = new Set([2n, 3n]);
    expect(gen.nextLeaseId((id) => taken.has(id))).toBe(4n);
    const wrapping = new IdGenerator(0x8000n, 2 ** 40 - 1);
    for (let i = 0; i < 255; i++) wrapping.next(); // suffix now 2^48 - 1: the next one wraps to 0
    expect(wrapping.nextLeaseId()).toBe(1n);
    const typical = new IdGenerator(member, startMs).nextLeaseId();
    expect(typical).toBeLessThan(2n ** 63n);
    expect(typical >> 48n).toBe(0x694dn);
  });

  it('is unique across a restart one millisecond later', () => {
    const before = new IdGenerator(member, startMs);
    const a = Array.from({ length: 200 }, () => before.next());
    const after = new IdGenerator(member, startMs + 1);
    const b = Array.from({ length: 200 }, () => after.next());
    // Fewer than 256 ids per millisecond before the restart cannot collide with the ids after it
    // (etcd's stated assumption: its throughput is far below 256 requests/ms).
    expect(new Set([...a, ...b]).size).toBe(400);
    expect(b[0]!).toBeGreaterThan(a.at(-1)!);
  });
});

describe('lease bucket records', () => {
  it('writes ids as decimal strings and reads them back exactly', () => {
    const id = 3182763892645462267n;
    const bytes = encodeLeaseRecord({ id, ttl: 60, remainingTtl: 12 });
    expect(Buffer.from(bytes).toString()).toBe('{"id":"3182763892645462267","ttl":60,"remainingTtl":12}');
    expect(decodeLeaseRecord(bytes)).toEqual({ id, ttl: 60, remainingTtl: 12 });
    expect(Buffer.from(encodeLeaseRecord({ id: 5n, ttl: 9, remainingTtl: 0 })).toString()).toBe(
      '{"id":"5","ttl":9}',
    );
  });

  it('reads records written before ids were exact (JSON numbers)', () => {
    expect(decodeLeaseRecord(Buffer.from('{"id":8796093022209,"ttl":30}'))).toEqual({
      id: 8796093022209n,
      ttl: 30,
      remainingTtl: 0,
    });
  });

  it('refuses a record whose id is not an exact integer', () => {
    expect(() => decodeLeaseRecord(Buffer.from('{"id":3182763892645462000,"ttl":30}'))).toThrow(/bad lease/);
    expect(() => decodeLeaseRecord(Buffer.from('{"id":"x","ttl":30}'))).toThrow(/bad lease/);
  });

  it('keys leases by their 8-byte big-endian two’s complement', () => {
    expect([...leaseBucketKey(0x1234n)]).toEqual([0, 0, 0, 0, 0, 0, 0x12, 0x34]);
    expect([...leaseBucketKey(-1n)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
  });
});

describe('quoteLargeIntegers (gateway request bodies)', () => {
  it('quotes integer literals beyond 2^53 and leaves everything else alone', () => {
    expect(quoteLargeIntegers('{"ID": 3182763892645462267, "TTL": 60}')).toBe(
      '{"ID": "3182763892645462267", "TTL": 60}',
    );
    expect(quoteLargeIntegers('[-9223372036854775808,9007199254740991]')).toBe(
      '["-9223372036854775808",9007199254740991]',
    );
    const untouched =
      '{"s": "12345678901234567890 \\" 99999999999999999999", "f": 1.5e300, "n": 9007199254740993.0}';
    expect(quoteLargeIntegers(untouched)).toBe(untouched);
    expect(JSON.parse(quoteLargeIntegers('{"create_request": {"watch_id": 18446744073709551615}}'))).toEqual({
      create_request: { watch_id: '18446744073709551615' },
    });
  });
});
