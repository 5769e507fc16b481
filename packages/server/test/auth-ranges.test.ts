/**
 * IntervalSet against an independent model: random grants and queries over a small key alphabet, where
 * "covered" is decided segment by segment between all the endpoints involved.
 */
import { describe, expect, it } from 'vitest';
import { IntervalSet, type KeyInterval, toInterval } from '../src/auth/index.js';

/** Every key of length 0..2 over {a, b, c}: few enough that random grants often touch and overlap. */
const ALPHABET = ['a', 'b', 'c'];
const UNIVERSE: string[] = [''];
for (const x of ALPHABET) {
  UNIVERSE.push(x);
  for (const y of ALPHABET) UNIVERSE.push(x + y);
}
UNIVERSE.sort();

const inIv = (k: string, iv: KeyInterval) => k >= iv.start && (iv.end === null || k < iv.end);

/** Deterministic PRNG (mulberry32) so failures replay. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('IntervalSet', () => {
  it('agrees with an independent segment model on 2000 random grant sets and queries', () => {
    const r = rng(7);
    const pick = () => UNIVERSE[Math.floor(r() * UNIVERSE.length)]!;
    /** A random (key, range_end) in etcd's three forms: single key, range, from-key. */
    const randomRange = () => {
      const k = pick();
      const form = r();
      if (form < 0.3) return toInterval(bytes(k), undefined);
      if (form < 0.4) return toInterval(bytes(k), new Uint8Array([0]));
      return toInterval(bytes(k), bytes(pick()));
    };
    let checked = 0;
    let covered = 0;
    for (let round = 0; round < 2000; round++) {
      const grants = Array.from({ length: 1 + Math.floor(r() * 5) }, randomRange).filter(
        (g): g is KeyInterval => !!g,
      );
      const set = new IntervalSet(grants);
      const q = randomRange();
      if (!q) continue;
      // Model: cut the key space at every endpoint involved; each elementary segment [p_i, p_i+1)
      // is either inside a grant or not (no grant boundary falls inside it), so q is covered iff
      // the start point of every segment within q lies in some grant.
      const points = [
        ...new Set([
          q.start,
          ...grants.flatMap((g) => [g.start, ...(g.end === null ? [] : [g.end])]),
          ...(q.end === null ? [] : [q.end]),
        ]),
      ].sort();
      const segmentStarts = points.filter((p) => inIv(p, q));
      const model = segmentStarts.every((p) => grants.some((g) => inIv(p, g)));
      expect(set.contains(q), JSON.stringify({ grants, q })).toBe(model);
      checked++;
      if (model) covered++;
    }
    expect(checked).toBeGreaterThan(1000);
    expect(covered).toBeGreaterThan(100); // both outcomes are exercised
    expect(checked - covered).toBeGreaterThan(100);
  });

  it('merges overlapping and adjacent intervals into disjoint ones', () => {
    const s = new IntervalSet([
      { start: 'b', end: 'd' },
      { start: 'a', end: 'b' },
      { start: 'c', end: 'e' },
      { start: 'x', end: null },
      { start: 'y', end: 'z' },
      { start: 'g', end: 'h' },
    ]);
    expect(s.size).toBe(3); // [a,e) [g,h) [x,+inf)
    expect(s.contains({ start: 'a', end: 'e' })).toBe(true);
    expect(s.contains({ start: 'd', end: 'g' })).toBe(false);
    expect(s.contains({ start: 'zzz', end: null })).toBe(true);
  });
});
