import { describe, expect, it } from 'vitest';
import { runSeeds } from './run-seeds.js';
import { runSimulation } from './simulator.js';

// CI share of the deterministic simulation: seeds 1..1500 in chunks (sim-part2 runs 1501..3000 on
// another worker). RAFT_SIM_SEED=<n> runs just that seed with the full fault window, to reproduce a
// failure reported by CI or by tools/raft-soak.mjs.
const only = process.env.RAFT_SIM_SEED ? Number(process.env.RAFT_SIM_SEED) : undefined;
const CHUNK = 500;
const TIMEOUT = 150_000; // generous: the 2-core CI machine is shared

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

  for (let from = 1; from <= 1500; from += CHUNK) {
    it(
      `seeds ${from}..${from + CHUNK - 1} keep every safety invariant and recover after healing`,
      () => {
        const { runs, totals } = runSeeds(from, CHUNK, { faultSteps: 400 });
        expect(runs).toBe(CHUNK);
        // The fault schedule really exercised the interesting paths.
        expect(totals.crashes).toBeGreaterThan(CHUNK);
        expect(totals.leaderChanges).toBeGreaterThan(CHUNK);
        expect(totals.confChanges).toBeGreaterThan(CHUNK);
        expect(totals.snapshotsInstalled).toBeGreaterThan(CHUNK / 10);
        expect(totals.reads).toBeGreaterThan(CHUNK);
        expect(totals.proposals.committed).toBeGreaterThan(CHUNK * 5);
      },
      TIMEOUT,
    );
  }
});
