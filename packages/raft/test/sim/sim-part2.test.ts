import { describe, expect, it } from 'vitest';
import { runSeeds } from './run-seeds.js';

// Second CI share of the simulation (seeds 1501..3000), run by vitest in parallel with part 1.
const CHUNK = 500;
const TIMEOUT = 150_000;

describe.skipIf(process.env.RAFT_SIM_SEED !== undefined)('deterministic cluster simulation (part 2)', () => {
  for (let from = 1501; from <= 3000; from += CHUNK) {
    it(
      `seeds ${from}..${from + CHUNK - 1} keep every safety invariant and recover after healing`,
      () => {
        const { runs, totals } = runSeeds(from, CHUNK, { faultSteps: 400 });
        expect(runs).toBe(CHUNK);
        expect(totals.crashes).toBeGreaterThan(CHUNK);
        expect(totals.proposals.committed).toBeGreaterThan(CHUNK * 5);
      },
      TIMEOUT,
    );
  }
});
