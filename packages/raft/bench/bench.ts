/**
 * Benchmarks for @kv/raft (run with `pnpm --filter @kv/raft bench`):
 * 1. committed entries per second and CPU µs per entry for a 3-node in-memory cluster with batched
 *    proposals (the whole cluster runs in this one thread, so CPU per entry covers all three nodes);
 * 2. election time in ticks: first election of a fresh cluster, and re-election after the leader fails.
 */
import {
  type Config,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  RawNode,
  StateType,
} from '../src/index.js';

interface BenchNode {
  rn: RawNode;
  storage: MemoryStorage;
  applied: number;
  down: boolean;
}

function config(id: bigint, storage: MemoryStorage, seed: number): Config {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    checkQuorum: true,
    preVote: true,
    readOnlyOption: 'safe',
    disableProposalForwarding: false,
    seed: seed * 31 + Number(id),
  };
}

class Cluster {
  readonly nodes = new Map<bigint, BenchNode>();
  private queue: Message[] = [];

  constructor(size: number, seed: number) {
    const peers = Array.from({ length: size }, (_, i) => BigInt(i + 1));
    for (const id of peers) {
      const storage = new MemoryStorage();
      const rn = new RawNode(config(id, storage, seed));
      rn.bootstrap(peers);
      this.nodes.set(id, { rn, storage, applied: 0, down: false });
    }
    this.pump();
  }

  /** Handles Readys and delivers messages until quiet. */
  pump(): void {
    for (;;) {
      for (const n of this.nodes.values()) {
        if (n.down) continue;
        while (n.rn.hasReady()) {
          const rd = n.rn.ready();
          if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
          n.storage.append(rd.entries);
          if (rd.hardState) n.storage.setHardState(rd.hardState);
          for (const m of rd.messages) this.queue.push(m);
          for (const e of rd.committedEntries) {
            if (e.type === EntryType.ConfChange) n.rn.applyConfChange(decodeConfChange(e.data));
            n.applied = e.index;
          }
          n.rn.advance();
        }
      }
      if (this.queue.length === 0) return;
      const msgs = this.queue;
      this.queue = [];
      for (const m of msgs) {
        const to = this.nodes.get(m.to);
        if (to && !to.down && !this.nodes.get(m.from)!.down) to.rn.step(m);
      }
    }
  }

  tickAll(): void {
    for (const n of this.nodes.values()) if (!n.down) n.rn.tick();
    this.pump();
  }

  leader(): bigint | undefined {
    for (const [id, n] of this.nodes) if (!n.down && n.rn.raft.state === StateType.Leader) return id;
    return undefined;
  }
}

function throughput(batch: number, payload: number, totalEntries: number, mode: 'propose' | 'proposeBatch') {
  const c = new Cluster(3, 1);
  while (c.leader() === undefined) c.tickAll();
  const leader = c.nodes.get(c.leader()!)!;
  const data = new Uint8Array(payload).fill(7);
  const start = leader.applied;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let proposed = 0;
  while (proposed < totalEntries) {
    if (mode === 'proposeBatch') leader.rn.proposeBatch(Array.from({ length: batch }, () => data));
    else for (let i = 0; i < batch; i++) leader.rn.propose(data);
    proposed += batch;
    c.pump();
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const committed = leader.applied - start;
  const cpuMicros = cpu.user + cpu.system;
  return {
    mode,
    batch,
    payload,
    committed,
    entriesPerSec: Math.round(committed / seconds),
    cpuMicrosPerEntry: +(cpuMicros / committed).toFixed(2),
  };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function elections(runs: number) {
  const first: number[] = [];
  const failover: number[] = [];
  for (let seed = 1; seed <= runs; seed++) {
    const c = new Cluster(3, seed);
    let ticks = 0;
    while (c.leader() === undefined) {
      c.tickAll();
      ticks++;
    }
    first.push(ticks);
    c.nodes.get(c.leader()!)!.down = true;
    ticks = 0;
    while (c.leader() === undefined) {
      c.tickAll();
      ticks++;
    }
    failover.push(ticks);
  }
  const summary = (xs: number[]) => ({
    mean: +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1),
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: Math.max(...xs),
  });
  return { runs, electionTick: 10, firstElection: summary(first), afterLeaderFailure: summary(failover) };
}

// Warm up the JIT, then measure.
throughput(64, 128, 20_000, 'proposeBatch');
throughput(64, 128, 20_000, 'propose');
const results = [
  throughput(1, 128, 20_000, 'propose'),
  throughput(64, 128, 200_000, 'propose'),
  throughput(64, 128, 400_000, 'proposeBatch'),
  throughput(256, 128, 800_000, 'proposeBatch'),
  throughput(256, 1024, 400_000, 'proposeBatch'),
];
console.log('committed entries/s, 3-node in-memory cluster (all nodes in one thread):');
console.table(results);
console.log('election time in ticks (electionTick=10, heartbeatTick=1, preVote+checkQuorum):');
console.log(JSON.stringify(elections(1000), null, 2));
