import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JointConfig, MajorityConfig, NO_LIMIT_INDEX, VoteResult } from '../src/index.js';

/** Reference definition: the largest index i such that a majority has acked >= i (0 if none). */
function naiveCommitted(ids: bigint[], acked: Map<bigint, number>): number {
  if (ids.length === 0) return NO_LIMIT_INDEX;
  const q = Math.floor(ids.length / 2) + 1;
  let best = 0;
  for (const candidate of new Set([0, ...ids.map((id) => acked.get(id) ?? 0)])) {
    const count = ids.filter((id) => (acked.get(id) ?? 0) >= candidate).length;
    if (count >= q && candidate > best) best = candidate;
  }
  return best;
}

/** Reference vote counting: won if yes >= q, lost if even all missing voting yes cannot reach q. */
function naiveVote(ids: bigint[], votes: Map<bigint, boolean>): VoteResult {
  if (ids.length === 0) return VoteResult.Won;
  const q = Math.floor(ids.length / 2) + 1;
  const yes = ids.filter((id) => votes.get(id) === true).length;
  const missing = ids.filter((id) => !votes.has(id)).length;
  if (yes >= q) return VoteResult.Won;
  if (yes + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}

const idSet = fc.uniqueArray(fc.bigInt({ min: 1n, max: 12n }), { minLength: 0, maxLength: 9 });
const ackMap = fc
  .array(fc.tuple(fc.bigInt({ min: 1n, max: 12n }), fc.integer({ min: 0, max: 50 })), { maxLength: 12 })
  .map((xs) => new Map(xs));
const voteMap = fc
  .array(fc.tuple(fc.bigInt({ min: 1n, max: 12n }), fc.boolean()), { maxLength: 12 })
  .map((xs) => new Map(xs));

describe('quorum arithmetic (property tests)', () => {
  it('majority committed index matches the reference definition', () => {
    fc.assert(
      fc.property(idSet, ackMap, (ids, acked) => {
        expect(new MajorityConfig(ids).committedIndex((id) => acked.get(id))).toBe(
          naiveCommitted(ids, acked),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('a majority of voters holds every index up to the committed one', () => {
    fc.assert(
      fc.property(
        idSet.filter((x) => x.length > 0),
        ackMap,
        (ids, acked) => {
          const ci = new MajorityConfig(ids).committedIndex((id) => acked.get(id));
          const holders = ids.filter((id) => (acked.get(id) ?? 0) >= ci).length;
          expect(holders).toBeGreaterThan(ids.length / 2);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('committed index is monotone in the acks', () => {
    fc.assert(
      fc.property(
        idSet,
        ackMap,
        fc.bigInt({ min: 1n, max: 12n }),
        fc.integer({ min: 0, max: 20 }),
        (ids, acked, who, bump) => {
          const cfg = new MajorityConfig(ids);
          const before = cfg.committedIndex((id) => acked.get(id));
          const more = new Map(acked);
          more.set(who, (more.get(who) ?? 0) + bump);
          expect(cfg.committedIndex((id) => more.get(id))).toBeGreaterThanOrEqual(before);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('majority vote result matches the reference', () => {
    fc.assert(
      fc.property(idSet, voteMap, (ids, votes) => {
        expect(new MajorityConfig(ids).voteResult(votes)).toBe(naiveVote(ids, votes));
      }),
      { numRuns: 2000 },
    );
  });

  it('joint committed index is the minimum of both halves, and a joint config equal halves acts like one', () => {
    fc.assert(
      fc.property(idSet, idSet, ackMap, (inc, out, acked) => {
        const j = new JointConfig(inc, out);
        const idx = (id: bigint) => acked.get(id);
        const want = Math.min(naiveCommitted(inc, acked), naiveCommitted(out, acked));
        expect(j.committedIndex(idx)).toBe(want);
        expect(new JointConfig(inc, inc).committedIndex(idx)).toBe(
          new MajorityConfig(inc).committedIndex(idx),
        );
        expect(new JointConfig(inc, []).committedIndex(idx)).toBe(
          new MajorityConfig(inc).committedIndex(idx),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('joint vote: won only if both halves win, lost if either loses', () => {
    fc.assert(
      fc.property(idSet, idSet, voteMap, (inc, out, votes) => {
        const r = new JointConfig(inc, out).voteResult(votes);
        const a = naiveVote(inc, votes);
        const b = naiveVote(out, votes);
        if (a === VoteResult.Won && b === VoteResult.Won) expect(r).toBe(VoteResult.Won);
        else if (a === VoteResult.Lost || b === VoteResult.Lost) expect(r).toBe(VoteResult.Lost);
        else expect(r).toBe(VoteResult.Pending);
      }),
      { numRuns: 2000 },
    );
  });

  it('any two winning vote sets of a joint config intersect in each half (election safety)', () => {
    fc.assert(
      fc.property(
        idSet.filter((x) => x.length > 0),
        idSet,
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (inc, out, a, b) => {
          const j = new JointConfig(inc, out);
          const va = new Map(j.ids().map((id) => [id, a[Number(id) - 1]!]));
          const vb = new Map(j.ids().map((id) => [id, b[Number(id) - 1]!]));
          if (j.voteResult(va) === VoteResult.Won && j.voteResult(vb) === VoteResult.Won) {
            for (const half of [inc, out]) {
              if (half.length === 0) continue;
              expect(half.some((id) => va.get(id) && vb.get(id))).toBe(true);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
