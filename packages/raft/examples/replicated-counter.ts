// A replicated counter on @kv/raft: three replicas in one process, an in-memory transport, and the
// Ready loop every application needs (persist -> send -> apply -> advance).
import {
  decodeConfChange,
  decodeConfChangeV2,
  EntryType,
  MemoryStorage,
  type Message,
  ProposalDroppedError,
  RawNode,
  StateType,
} from '../src/index.js';

const encodeDelta = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
};
const decodeDelta = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0);

/** One replica: a raft node, its log storage, and the state machine (a single number). */
class CounterReplica {
  readonly storage = new MemoryStorage();
  readonly node: RawNode;
  value = 0;

  constructor(
    readonly id: bigint,
    peers: bigint[],
    private readonly send: (m: Message) => void,
  ) {
    this.node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: this.storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: 'safe',
      disableProposalForwarding: false,
      seed: Number(id),
    });
    this.node.bootstrap(peers); // brand-new cluster; on restart you would skip this
  }

  /** The Ready loop. A real server writes entries + hard state to its WAL (fsync if rd.mustSync) first. */
  handleReady(): void {
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      if (rd.snapshot) {
        this.storage.applySnapshot(rd.snapshot);
        this.value = decodeDelta(rd.snapshot.data);
      }
      this.storage.append(rd.entries);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      for (const m of rd.messages) this.send(m);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.Normal && e.data.length > 0) this.value += decodeDelta(e.data);
        else if (e.type === EntryType.ConfChange) this.node.applyConfChange(decodeConfChange(e.data));
        else if (e.type === EntryType.ConfChangeV2) this.node.applyConfChange(decodeConfChangeV2(e.data));
      }
      this.node.advance();
    }
  }
}

/** Runs the cluster, adds 1..10 through different replicas, and returns every replica's value. */
export function runCounterCluster(): number[] {
  const network: Message[] = [];
  const peers = [1n, 2n, 3n];
  const replicas = new Map(peers.map((id) => [id, new CounterReplica(id, peers, (m) => network.push(m))]));

  // Deliver messages and handle Readys until the cluster is quiet.
  const pump = () => {
    while (network.length > 0 || [...replicas.values()].some((r) => r.node.hasReady())) {
      for (const r of replicas.values()) r.handleReady();
      for (const m of network.splice(0)) replicas.get(m.to)?.node.step(m);
    }
  };
  const tickAll = () => {
    for (const r of replicas.values()) r.node.tick();
    pump();
  };

  // Time passes in ticks (a real server ticks every ~100 ms); a leader gets elected.
  const hasLeader = () =>
    [...replicas.values()].some((r) => r.node.status().softState.raftState === StateType.Leader);
  while (!hasLeader()) tickAll();

  // Any replica takes proposals: followers forward them to the leader.
  for (let i = 1; i <= 10; i++) {
    const via = replicas.get(peers[i % peers.length]!)!;
    try {
      via.node.propose(encodeDelta(i));
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      i--; // no leader known right now: retry after time passes
      tickAll();
    }
    pump();
  }
  // Followers learn the final commit index from the next heartbeat.
  tickAll();
  return [...replicas.values()].map((r) => r.value);
}
