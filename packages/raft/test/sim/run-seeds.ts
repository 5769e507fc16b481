import { runSimulation, type SimOptions, type SimResult } from './simulator.js';

/** Runs seeds [from, from + count) and returns aggregate numbers; throws on the first failing seed. */
export function runSeeds(
  from: number,
  count: number,
  opts?: SimOptions,
): { runs: number; totals: Omit<SimResult, 'seed' | 'nodes'> } {
  const totals = {
    committed: 0,
    leaderChanges: 0,
    crashes: 0,
    confChanges: 0,
    snapshotsInstalled: 0,
    reads: 0,
    proposals: { accepted: 0, committed: 0, dropped: 0 },
  };
  for (let seed = from; seed < from + count; seed++) {
    const r = runSimulation(seed, opts);
    totals.committed += r.committed;
    totals.leaderChanges += r.leaderChanges;
    totals.crashes += r.crashes;
    totals.confChanges += r.confChanges;
    totals.snapshotsInstalled += r.snapshotsInstalled;
    totals.reads += r.reads;
    totals.proposals.accepted += r.proposals.accepted;
    totals.proposals.committed += r.proposals.committed;
    totals.proposals.dropped += r.proposals.dropped;
  }
  return { runs: count, totals };
}
