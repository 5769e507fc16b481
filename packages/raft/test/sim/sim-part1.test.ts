import { describe, expect, it } from 'vitest';
import { runSeeds } from './run-seeds.js';
import { runSimulation } from './simulator.js';

// CI share of the deterministic simulation: seeds 1..1000 (sim-part2 runs 1001..2000 in parallel).
// RAFT_SIM_SEED=<n> runs just that seed with the full fault window, to reproduce a failure.
const only = process.env.RAFT_SIM_SEED ? Number(process.env.RAFT_SIM_SEED) : undefined;

describe('deterministic cluster simulation (part 1)', () => {
  if (only !== undefined) {
    it(`seed ${only}`, () => {
      const r = runSimulation(only);
      expect(r.committed).toBeGreaterThan(0);
    });
    return;
  }

  it('the same seed replays identically', () => {
    expect(runSimulation(12345)).toEqual(runSimulation(12345));
  });

  it('seeds 1..1000 keep every safety invariant and recover after healing', () => {
    const { runs, totals } = runSeeds(1, 1000, { faultSteps: 300 });
    expect(runs).toBe(1000);
    // The fault schedule really exercised the interesting paths.
    expect(totals.crashes).toBeGreaterThan(500);
    expect(totals.leaderChanges).toBeGreaterThan(1000);
    expect(totals.confChanges).toBeGreaterThan(200);
    expect(totals.snapshotsInstalled).toBeGreaterThan(20);
    expect(totals.proposals.committed).toBeGreaterThan(1000);
  });
});
