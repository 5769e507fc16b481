import {
  type Config,
  decodeConfChange,
  decodeConfChangeV2,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  type MessageType,
  ProposalDroppedError,
  RawNode,
  type ReadState,
  StateType,
  StepPeerNotFoundError,
} from '../../src/index.js';

/** One member of a TestCluster: a RawNode, its storage and what it applied. */
export interface TestNode {
  id: bigint;
  rn: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

export type ConfigOverrides = Partial<Omit<Config, 'id' | 'storage'>>;

export function baseConfig(id: bigint, storage: MemoryStorage, o: ConfigOverrides = {}): Config {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: Number.POSITIVE_INFINITY,
    maxInflightMsgs: 256,
    checkQuorum: false,
    preVote: false,
    readOnlyOption: 'safe',
    disableProposalForwarding: false,
    seed: Number(id),
    ...o,
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

/**
 * An in-memory cluster that follows the Ready contract (persist, send, apply, advance) synchronously and
 * delivers messages until the system is quiet. Links can be cut and nodes isolated; a message filter
 * can drop or inspect traffic.
 */
export class TestCluster {
  readonly nodes = new Map<bigint, TestNode>();
  private readonly cut = new Set<string>();
  /** Return false to drop a message. */
  filter: ((m: Message) => boolean) | undefined;
  /** Every message delivered (for assertions). */
  readonly delivered: Message[] = [];
  private queue: Message[] = [];

  constructor(
    ids: bigint[],
    readonly overrides: ConfigOverrides = {},
    opts: { learners?: bigint[]; bootstrap?: boolean } = {},
  ) {
    const all = [...ids, ...(opts.learners ?? [])];
    for (const id of all) this.addNode(id, opts.bootstrap === false ? undefined : ids, opts.learners);
    // Apply the bootstrap conf changes so nodes may campaign.
    this.stabilize();
  }

  /** A cluster whose nodes start from prepared storages (see storageWith). */
  static fromStorages(storages: Map<bigint, MemoryStorage>, overrides: ConfigOverrides = {}): TestCluster {
    const c = new TestCluster([], overrides);
    for (const [id, st] of storages) c.addNode(id, undefined, [], st);
    c.stabilize();
    return c;
  }

  /** Starts a node; with `peers` it bootstraps a new cluster, otherwise it joins with empty storage. */
  addNode(id: bigint, peers?: bigint[], learners: bigint[] = [], storage = new MemoryStorage()): TestNode {
    const rn = new RawNode(baseConfig(id, storage, this.overrides));
    if (peers && storage.lastIndex() === 0) {
      rn.bootstrap(peers);
      for (const l of learners) rn.applyConfChange({ type: 3, nodeId: l, context: new Uint8Array() });
    }
    const node: TestNode = { id, rn, storage, applied: [], readStates: [] };
    this.nodes.set(id, node);
    return node;
  }

  /** Restarts a node from its storage (what it persisted), as after a crash. */
  restart(id: bigint, applied = 0): TestNode {
    const old = this.node(id);
    const rn = new RawNode(baseConfig(id, old.storage, { ...this.overrides, applied }));
    const node: TestNode = {
      id,
      rn,
      storage: old.storage,
      applied: old.applied.filter((e) => e.index <= applied),
      readStates: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: bigint): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: bigint) {
    return this.node(id).rn.raft;
  }

  /** Handles one node's Ready batches until it has none, queueing outgoing messages. */
  processReady(id: bigint): void {
    const n = this.node(id);
    while (n.rn.hasReady()) {
      const rd = n.rn.ready();
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      this.queue.push(...rd.messages);
      if (rd.snapshot) n.applied = n.applied.filter((e) => e.index <= rd.snapshot!.metadata.index);
      for (const e of rd.committedEntries) {
        n.applied.push(e);
        if (e.type === EntryType.ConfChange) n.rn.applyConfChange(decodeConfChange(e.data));
        else if (e.type === EntryType.ConfChangeV2) n.rn.applyConfChange(decodeConfChangeV2(e.data));
      }
      n.readStates.push(...rd.readStates);
      n.rn.advance();
    }
  }

  /** Delivers messages (and handles every Ready) until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      for (const id of this.nodes.keys()) this.processReady(id);
      if (this.queue.length === 0) return;
      const msgs = this.queue;
      this.queue = [];
      for (const m of msgs) this.deliver(m);
    }
    throw new Error('cluster did not stabilize');
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    if (!to) return;
    if (this.cut.has(`${m.from}-${m.to}`)) return;
    if (this.filter && !this.filter(m)) return;
    this.delivered.push(m);
    try {
      to.rn.step(m);
    } catch (e) {
      // A forwarded proposal arriving at a node that cannot take it is dropped, as on a real network.
      // (and a response from a node removed from the configuration is ignored), as on a real network.
      if (!(e instanceof ProposalDroppedError || e instanceof StepPeerNotFoundError)) throw e;
    }
  }

  /** Steps a message into its target and stabilizes. */
  send(m: Message): void {
    this.deliver(m);
    this.stabilize();
  }

  campaign(id: bigint): void {
    this.node(id).rn.campaign();
    this.stabilize();
  }

  propose(id: bigint, data: string | Uint8Array): void {
    this.node(id).rn.propose(typeof data === 'string' ? bytes(data) : data);
    this.stabilize();
  }

  tick(id: bigint, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).rn.tick();
    this.stabilize();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.rn.tick();
      this.stabilize();
    }
  }

  /** Cuts both directions between a and b. */
  cutLink(a: bigint, b: bigint): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  isolate(id: bigint): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  heal(): void {
    this.cut.clear();
    this.filter = undefined;
  }

  leader(): bigint | undefined {
    let best: { id: bigint; term: number } | undefined;
    for (const n of this.nodes.values()) {
      const r = n.rn.raft;
      if (r.state === StateType.Leader && (!best || r.term > best.term)) best = { id: n.id, term: r.term };
    }
    return best?.id;
  }

  state(id: bigint): StateType {
    return this.raft(id).state;
  }

  /** Applied normal entries with data, as strings. */
  appliedData(id: bigint): string[] {
    return this.node(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => text(e.data));
  }

  /** Messages of a type that were delivered (optionally only from/to a node). */
  deliveredOf(type: MessageType, opts: { from?: bigint; to?: bigint } = {}): Message[] {
    return this.delivered.filter(
      (m) =>
        m.type === type &&
        (opts.from === undefined || m.from === opts.from) &&
        (opts.to === undefined || m.to === opts.to),
    );
  }
}

/**
 * Storage holding a snapshot at (1, 1) whose configuration has `voters` (and `learners`), followed by
 * entries whose terms are `terms` (index 2, 3, ...), and the given hard state term.
 */
export function storageWith(
  voters: bigint[],
  terms: number[] = [],
  term = 0,
  learners: bigint[] = [],
): MemoryStorage {
  const st = new MemoryStorage();
  st.applySnapshot({
    data: new Uint8Array(),
    metadata: {
      index: 1,
      term: 1,
      confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  });
  st.append(
    terms.map((t, i) => ({ term: t, index: i + 2, type: EntryType.Normal, data: bytes(`e${i + 2}`) })),
  );
  st.setHardState({ term: Math.max(term, terms.at(-1) ?? 1, 1), vote: 0n, commit: 1 });
  return st;
}
