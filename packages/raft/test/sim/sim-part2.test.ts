import { describe, expect, it } from 'vitest';
import { runSeeds } from './run-seeds.js';

// Second CI share of the simulation (runs in parallel with part 1 on another worker).
describe.skipIf(process.env.RAFT_SIM_SEED !== undefined)('deterministic cluster simulation (part 2)', () => {
  it('seeds 1001..2000 keep every safety invariant and recover after healing', () => {
    const { runs, totals } = runSeeds(1001, 1000, { faultSteps: 300 });
    expect(runs).toBe(1000);
    expect(totals.proposals.committed).toBeGreaterThan(1000);
  });
});
