// A small seeded PRNG (mulberry32): every random choice of a run derives from --seed, so a run's traffic
// and fault schedule can be replayed (timing still differs from run to run).

/** @param {number} seed */
export function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    /** A float in [0, 1). */
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** One element of a non-empty array. */
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** A child generator with its own stream (one per client, one for the nemesis). */
    fork: () => makeRng(Math.floor(next() * 2 ** 32)),
  };
}
