/** fast-check generators for random etcd workloads over a small key space (so ops collide often). */
import fc from 'fast-check';
import type { MCompare, MDelete, MOp, MPut, MRange, MTxn } from './model.js';

export const KEYS = ['a', 'ab', 'b', 'c', 'd'];
const key = fc.constantFrom(...KEYS);
const end = fc.constantFrom<string | undefined>(undefined, '\0', '\0', 'b', 'c', 'e', 'e', 'ab');
const value = fc.constantFrom('', 'x', 'y', 'zz');
const lease = fc.constantFrom(0, 0, 1, 2);
// Mostly current-revision reads; sometimes historical, compacted or future ones.
const rev = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 30 }) },
);

export const rangeArb: fc.Arbitrary<MRange> = fc.record(
  {
    key,
    end,
    rev,
    limit: fc.constantFrom(0, 0, 1, 2, 3),
    sortOrder: fc.constantFrom(0, 0, 1, 2),
    sortTarget: fc.constantFrom(0, 0, 1, 2, 3, 4),
    countOnly: fc.constantFrom(false, false, false, true),
    keysOnly: fc.constantFrom(false, false, true),
    minMod: fc.constantFrom(0, 0, 0, 0, 0, 3, 8),
    maxMod: fc.constantFrom(0, 0, 0, 0, 0, 5, 12),
    minCreate: fc.constantFrom(0, 0, 0, 0, 0, 2, 6),
    maxCreate: fc.constantFrom(0, 0, 0, 0, 0, 4, 10),
  },
  { requiredKeys: ['key'] },
);

export const putArb: fc.Arbitrary<MPut> = fc.record(
  {
    key,
    value,
    lease,
    prevKv: fc.boolean(),
    ignoreValue: fc.constantFrom(false, false, false, true),
    ignoreLease: fc.constantFrom(false, false, false, true),
  },
  { requiredKeys: ['key', 'value', 'lease'] },
);

export const delArb: fc.Arbitrary<MDelete> = fc.record(
  { key, end, prevKv: fc.boolean() },
  { requiredKeys: ['key'] },
);

const compareArb: fc.Arbitrary<MCompare> = fc
  .record({
    key,
    end: fc.constantFrom<string | undefined>(undefined, undefined, undefined, '\0', 'c'),
    target: fc.integer({ min: 0, max: 4 }),
    result: fc.integer({ min: 0, max: 3 }),
    num: fc.integer({ min: 0, max: 8 }),
    str: value,
  })
  .map(({ num, str, ...c }) => ({ ...c, operand: c.target === 3 ? str : c.target === 4 ? num % 3 : num }));

const leafOp: fc.Arbitrary<MOp> = fc.oneof(
  rangeArb.map((range) => ({ range })),
  putArb.map((put) => ({ put })),
  putArb.map((put) => ({ put })),
  delArb.map((del) => ({ del })),
);

const txnOf = (op: fc.Arbitrary<MOp>): fc.Arbitrary<MTxn> =>
  fc.record({
    compare: fc.array(compareArb, { maxLength: 2 }),
    success: fc.array(op, { maxLength: 3 }),
    failure: fc.array(op, { maxLength: 3 }),
  });

const nestedOp: fc.Arbitrary<MOp> = fc.oneof(
  { weight: 4, arbitrary: leafOp },
  { weight: 1, arbitrary: txnOf(leafOp).map((txn) => ({ txn })) },
);

export const txnArb: fc.Arbitrary<MTxn> = txnOf(nestedOp);

/** One step of a store workload. */
export type Step =
  | { kind: 'put'; put: MPut }
  | { kind: 'del'; del: MDelete }
  | { kind: 'txn'; txn: MTxn }
  | { kind: 'range'; range: MRange }
  | { kind: 'compact'; rev: number }
  | { kind: 'reopen' };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: putArb.map((put) => ({ kind: 'put' as const, put })) },
  { weight: 2, arbitrary: delArb.map((del) => ({ kind: 'del' as const, del })) },
  { weight: 3, arbitrary: txnArb.map((txn) => ({ kind: 'txn' as const, txn })) },
  { weight: 3, arbitrary: rangeArb.map((range) => ({ kind: 'range' as const, range })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 25 }).map((r) => ({ kind: 'compact' as const, rev: r })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);
