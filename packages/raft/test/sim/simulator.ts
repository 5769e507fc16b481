/**
 * Deterministic cluster simulator. One seed fixes everything: cluster size, options, the fault schedule,
 * message delays, drops, duplicates, crashes. Nodes follow the Ready contract; a crash loses whatever was
 * not persisted yet (including the Ready being handled). Invariants are checked after every step; a
 * violation throws SimulationError naming the seed that reproduces it.
 */
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  decodeConfChange,
  decodeConfChangeV2,
  type Entry,
  EntryType,
  emptyConfState,
  fmtConfState,
  MemoryStorage,
  type Message,
  MessageType,
  ProposalDroppedError,
  RawNode,
  type Ready,
  StateType,
  seededRandom,
} from '../../src/index.js';

export class SimulationError extends Error {
  override name = 'SimulationError';
  constructor(
    readonly seed: number,
    what: string,
    readonly trace: string[],
  ) {
    super(
      `seed ${seed}: ${what}\n  reproduce: RAFT_SIM_SEED=${seed} (last events: ${trace.slice(-12).join(' | ')})`,
    );
  }
}

export interface SimOptions {
  /** Sub-steps of the fault window. */
  faultSteps?: number;
  /** Max sub-steps allowed for recovery after healing. */
  healSteps?: number;
}

export interface SimResult {
  seed: number;
  nodes: number;
  committed: number;
  leaderChanges: number;
  crashes: number;
  confChanges: number;
  snapshotsInstalled: number;
  /** ReadIndex answers checked for linearizability. */
  reads: number;
  proposals: { accepted: number; committed: number; dropped: number };
}

interface StateMachine {
  applied: number;
  /** Rolling hash of every applied entry: equal at equal index on all nodes. */
  hash: number;
  confState: ConfState;
}

interface SimNode {
  id: number;
  rn: RawNode | undefined;
  /** The node's disk: survives crashes. */
  storage: MemoryStorage;
  sm: StateMachine;
  /** Stopped for good (removed from the cluster). */
  retired: boolean;
  /** Last commit index this node persisted (must never go backwards). */
  persistedCommit: number;
}

interface InFlight {
  at: number;
  m: Message;
}

interface Proposal {
  key: string;
  index: number;
  term: number;
  required: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

function entryKey(e: Entry): string {
  return `${e.term}/${e.type}/${dec.decode(e.data)}`;
}

function mixHash(h: number, s: string): number {
  let x = h ^ 0x9e3779b9;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193);
  return x >>> 0;
}

const TICK_EVERY = 4;

export class Simulation {
  private readonly rand: () => number;
  private readonly nodes = new Map<number, SimNode>();
  private net: InFlight[] = [];
  private now = 0;
  private readonly trace: string[] = [];
  /** Directed links that are cut: "from>to". */
  private blocked = new Set<string>();
  private dropRate = 0;
  private dupRate = 0;
  private maxDelay = 2;
  private crashRate = 0;
  private nextId: number;
  private readonly maxIds = 7;
  private propCounter = 0;
  private readCounter = 0;
  private readonly pendingReads = new Map<string, number>();
  private readonly proposals = new Map<string, Proposal>();
  // invariant state
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly entryAt = new Map<string, { key: string; prevTerm: number | undefined }>();
  private readonly committedAt = new Map<number, { term: number; key: string; hash: number }>();
  private maxCommitted = 0;
  /**
   * Per index, an upper bound of the term in which it was committed: the term of the first node seen
   * (at a Ready) with a commit index covering it. Only the leader of that term, or a later one, is
   * bound to hold the entry; a stale leader of an earlier term may lack it (checkCommittedInLeaders).
   */
  private readonly commitTermBound = new Map<number, number>();
  private commitBoundUpTo = 0;
  private readonly stats: SimResult;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxInflight: number;
  private readonly maxSizePerMsg: number;
  private readonly stepDownOnRemoval: boolean;
  private lastLeader = 0;

  constructor(
    readonly seed: number,
    private readonly opts: SimOptions = {},
  ) {
    this.rand = seededRandom(seed * 7919 + 17);
    const n = 3 + this.int(5); // 3..7 founding voters
    this.nextId = n + 1;
    this.preVote = this.rand() < 0.5;
    this.checkQuorum = this.rand() < 0.5;
    this.maxInflight = 1 + this.int(8);
    this.maxSizePerMsg = this.rand() < 0.5 ? 64 : Number.POSITIVE_INFINITY;
    this.stepDownOnRemoval = this.rand() < 0.5;
    const peers = Array.from({ length: n }, (_, i) => i + 1);
    for (const id of peers) {
      const node = this.makeNode(id, new MemoryStorage());
      node.rn!.bootstrap(peers.map(BigInt));
    }
    this.stats = {
      seed,
      nodes: n,
      committed: 0,
      leaderChanges: 0,
      crashes: 0,
      confChanges: 0,
      snapshotsInstalled: 0,
      reads: 0,
      proposals: { accepted: 0, committed: 0, dropped: 0 },
    };
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.int(xs.length)];
  }

  private log(s: string): void {
    this.trace.push(`t${this.now} ${s}`);
    if (this.trace.length > 200) this.trace.splice(0, 100);
  }

  private fail(what: string): never {
    throw new SimulationError(this.seed, what, this.trace);
  }

  private makeNode(id: number, storage: MemoryStorage, sm?: StateMachine): SimNode {
    const snap = storage.snapshot();
    const state: StateMachine = sm ?? {
      applied: snap.metadata.index,
      hash: snap.metadata.index > 0 ? (JSON.parse(dec.decode(snap.data)) as { hash: number }).hash : 0,
      confState: snap.metadata.confState,
    };
    const rn = new RawNode({
      id: BigInt(id),
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      applied: state.applied,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: this.maxInflight,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      readOnlyOption: 'safe',
      disableProposalForwarding: false,
      stepDownOnRemoval: this.stepDownOnRemoval,
      seed: Math.floor(this.rand() * 2 ** 31),
    });
    const prev = this.nodes.get(id);
    const node: SimNode = {
      id,
      rn,
      storage,
      sm: state,
      retired: false,
      persistedCommit: prev?.persistedCommit ?? 0,
    };
    this.nodes.set(id, node);
    return node;
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.rn !== undefined);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const r = n.rn!.raft;
      if (r.state === StateType.Leader && (!best || r.term > best.rn!.raft.term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------------ network

  private send(m: Message): void {
    const copies = this.rand() < this.dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++) this.net.push({ at: this.now + 1 + this.int(this.maxDelay), m });
  }

  /** Delivers the messages whose time has come (only those addressed to `onlyTo`, if given). */
  private deliverDue(onlyTo?: number): void {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.net)
      (f.at <= this.now && (onlyTo === undefined || f.m.to === BigInt(onlyTo)) ? due : rest).push(f);
    this.net = rest;
    for (const { m } of due) {
      const to = this.nodes.get(Number(m.to));
      const lost = this.blocked.has(`${m.from}>${m.to}`) || this.rand() < this.dropRate;
      if (m.type === MessageType.MsgSnap) {
        // The sender's transport reports how the snapshot went.
        const sender = this.nodes.get(Number(m.from))?.rn;
        if (sender) sender.reportSnapshot(m.to, !lost && to?.rn !== undefined);
      }
      if (lost || !to?.rn) continue;
      try {
        to.rn.step(m);
      } catch (e) {
        if (
          !(e instanceof ProposalDroppedError) &&
          !(e instanceof Error && e.name === 'StepPeerNotFoundError')
        )
          throw e;
      }
    }
  }

  // ------------------------------------------------------------------ Ready handling

  private handleReady(n: SimNode): void {
    while (n.rn?.hasReady()) {
      const rn = n.rn;
      const rd = rn.ready();
      this.noteCommitTerm(rn.raft.log.committed, rn.raft.term);
      this.observeProposals(n, rd);
      this.checkReadStates(n, rd);
      if (process.env.RAFT_SIM_VERBOSE) {
        this.log(
          `n${n.id} ready ents ${rd.entries[0]?.index}-${rd.entries.at(-1)?.index} snap ${rd.snapshot?.metadata.index} stor ${n.storage.firstIndex()}-${n.storage.lastIndex()} unst ${rn.raft.log.unstable.offset}`,
        );
      }
      if (rd.softState?.raftState === StateType.Leader) this.onNewLeader(n);
      const crashPoint = this.rand() < this.crashRate ? this.int(3) : -1;
      // A leader may send before its own write completes; followers must persist first.
      const sendFirst = rn.raft.state === StateType.Leader && this.rand() < 0.5;
      if (sendFirst) for (const m of rd.messages) this.send(m);
      // An asynchronous server keeps receiving while its write is in flight.
      if (this.rand() < 0.2) this.deliverDue(n.id);
      if (crashPoint === 0) {
        this.crash(n, 'before persisting a Ready');
        return;
      }
      this.persist(n, rd);
      if (crashPoint === 1) {
        this.crash(n, 'after persisting, before sending/applying');
        return;
      }
      if (!sendFirst) for (const m of rd.messages) this.send(m);
      this.apply(n, rd);
      if (crashPoint === 2) {
        this.crash(n, 'after applying, before advance');
        return;
      }
      rn.advance();
    }
  }

  private persist(n: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!;
      let prevTerm: number | undefined;
      try {
        prevTerm =
          first.index - 1 >= n.storage.firstIndex() - 1 ? n.storage.term(first.index - 1) : undefined;
      } catch {
        prevTerm = undefined;
      }
      for (const e of rd.entries) {
        this.checkLogMatching(n, e, prevTerm);
        prevTerm = e.term;
      }
      n.storage.append(rd.entries);
    }
    if (rd.hardState) {
      n.storage.setHardState(rd.hardState);
      if (rd.hardState.commit < n.persistedCommit) {
        this.fail(`node ${n.id} persisted commit ${rd.hardState.commit} below earlier ${n.persistedCommit}`);
      }
      n.persistedCommit = rd.hardState.commit;
    }
  }

  private checkLogMatching(n: SimNode, e: Entry, prevTerm: number | undefined): void {
    const k = `${e.index}:${e.term}`;
    const key = entryKey(e);
    const seen = this.entryAt.get(k);
    if (!seen) {
      this.entryAt.set(k, { key, prevTerm });
      return;
    }
    if (seen.key !== key)
      this.fail(`log matching: node ${n.id} has entry ${k} = ${key}, elsewhere ${seen.key}`);
    if (prevTerm !== undefined) {
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      else if (seen.prevTerm !== prevTerm) {
        this.fail(
          `log matching: entry ${k} preceded by term ${prevTerm} on node ${n.id}, by ${seen.prevTerm} elsewhere`,
        );
      }
    }
  }

  private apply(n: SimNode, rd: Ready): void {
    const rn = n.rn!;
    if (rd.snapshot) {
      const md = rd.snapshot.metadata;
      const data = JSON.parse(dec.decode(rd.snapshot.data)) as { hash: number };
      const known = this.committedAt.get(md.index);
      if (known && known.hash !== data.hash)
        this.fail(`node ${n.id} installed snapshot ${md.index} with a different state`);
      n.sm = { applied: md.index, hash: data.hash, confState: md.confState };
      this.stats.snapshotsInstalled++;
      this.log(`n${n.id} installed snapshot ${md.index}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index !== n.sm.applied + 1) this.fail(`node ${n.id} applied ${e.index} after ${n.sm.applied}`);
      const key = entryKey(e);
      const hash = mixHash(n.sm.hash, key);
      const known = this.committedAt.get(e.index);
      if (known) {
        if (known.key !== key || known.hash !== hash) {
          this.fail(
            `state machine safety: node ${n.id} applied ${e.index} = ${key}, another node applied ${known.key}`,
          );
        }
      } else {
        this.committedAt.set(e.index, { term: e.term, key, hash });
        this.maxCommitted = Math.max(this.maxCommitted, e.index);
        this.checkCommittedInLeaders(e);
      }
      n.sm.applied = e.index;
      n.sm.hash = hash;
      if (e.type === EntryType.ConfChange || e.type === EntryType.ConfChangeV2) {
        const cc = e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
        n.sm.confState = rn.applyConfChange(cc);
        this.stats.confChanges++;
        // Snapshot right at the membership change, so the snapshot a leader sends a new member includes it
        // (a node ignores snapshots whose configuration does not contain it).
        if (e.index > n.storage.snapshot().metadata.index && e.index <= n.storage.lastIndex()) {
          n.storage.createSnapshot(e.index, n.sm.confState, enc.encode(JSON.stringify({ hash: n.sm.hash })));
        }
      }
    }
  }

  private crash(n: SimNode, when: string): void {
    this.log(`n${n.id} crashed ${when}`);
    this.stats.crashes++;
    n.rn = undefined;
  }

  private restart(n: SimNode): void {
    const hs = n.storage.initialState().hardState;
    if (hs.commit < n.persistedCommit) this.fail(`node ${n.id} lost its persisted commit index`);
    // Committed entries are never lost: everything up to the persisted commit index is on disk and is
    // what the cluster committed.
    for (let i = n.storage.firstIndex(); i <= hs.commit; i++) {
      const c = this.committedAt.get(i);
      if (c && n.storage.term(i) !== c.term)
        this.fail(`node ${n.id} restarted with entry ${i} != committed ${c.key}`);
    }
    // The state machine is volatile: rebuild it from the latest snapshot, then re-apply committed entries.
    this.makeNode(n.id, n.storage);
    this.log(`n${n.id} restarted (term ${hs.term}, commit ${hs.commit})`);
  }

  // ------------------------------------------------------------------ invariants

  private onNewLeader(n: SimNode): void {
    const r = n.rn!.raft;
    const prev = this.leaderOfTerm.get(r.term);
    if (prev !== undefined && prev !== n.id)
      this.fail(`election safety: ${prev} and ${n.id} both lead term ${r.term}`);
    this.leaderOfTerm.set(r.term, n.id);
    if (this.lastLeader !== n.id) this.stats.leaderChanges++;
    this.lastLeader = n.id;
    this.log(`n${n.id} leader of term ${r.term}`);
    // Leader completeness: every committed entry is in the new leader's log.
    const first = r.log.firstIndex();
    for (let i = Math.max(first, 1); i <= this.maxCommitted; i++) {
      const c = this.committedAt.get(i);
      if (c && r.log.termOrZero(i) !== c.term) {
        this.fail(
          `leader completeness: leader ${n.id} (term ${r.term}) lacks committed entry ${i}@${c.term}`,
        );
      }
    }
  }

  /** Records `term` as the commit-term bound of the indexes up to `commit` not seen committed before. */
  private noteCommitTerm(commit: number, term: number): void {
    for (let i = this.commitBoundUpTo + 1; i <= commit; i++) this.commitTermBound.set(i, term);
    this.commitBoundUpTo = Math.max(this.commitBoundUpTo, commit);
  }

  /**
   * Leader completeness at the moment an entry is first applied: a live leader must hold it if its term
   * is at least the one the entry was committed in (it committed the entry, or was elected after). A
   * leader of an earlier term that has not learned of its successors is stale and may lack it (the
   * entry's own term can be older still: an entry of term 5 committed in term 7 need not be in term 6's
   * leader). Leaders elected after the entry was applied are checked in onNewLeader.
   */
  private checkCommittedInLeaders(e: Entry): void {
    const committedIn = this.commitTermBound.get(e.index) ?? e.term;
    for (const n of this.live()) {
      const r = n.rn!.raft;
      if (r.state !== StateType.Leader || r.term < committedIn) continue;
      if (e.index < r.log.firstIndex()) continue;
      if (r.log.termOrZero(e.index) !== e.term) {
        this.fail(`committed entry ${e.index}@${e.term} missing from leader ${n.id} (term ${r.term})`);
      }
    }
  }

  private checkLeaders(): void {
    for (const n of this.live()) {
      const r = n.rn!.raft;
      if (r.state !== StateType.Leader) continue;
      const prev = this.leaderOfTerm.get(r.term);
      if (prev !== undefined && prev !== n.id)
        this.fail(`election safety: ${prev} and ${n.id} both lead term ${r.term}`);
      this.leaderOfTerm.set(r.term, n.id);
    }
  }

  // ------------------------------------------------------------------ proposals

  private propose(n: SimNode, required: boolean): boolean {
    const key = `p${this.propCounter++}`;
    try {
      n.rn!.propose(enc.encode(key));
    } catch (e) {
      if (e instanceof ProposalDroppedError) {
        this.stats.proposals.dropped++;
        return false;
      }
      throw e;
    }
    this.stats.proposals.accepted++;
    this.proposals.set(key, { key, index: 0, term: 0, required });
    return true;
  }

  private observeProposals(_n: SimNode, rd: Ready): void {
    for (const e of rd.entries) {
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      const p = this.proposals.get(dec.decode(e.data));
      // The first log position a proposal is given by a leader is the one its client waits on.
      if (p && p.index === 0) {
        p.index = e.index;
        p.term = e.term;
      }
    }
  }

  /** 'committed', 'dropped' (the client can tell it lost), or 'pending'. */
  private proposalOutcome(p: Proposal): 'committed' | 'dropped' | 'pending' {
    if (p.index === 0) return 'pending';
    const c = this.committedAt.get(p.index);
    if (c) return c.key === `${p.term}/${EntryType.Normal}/${p.key}` ? 'committed' : 'dropped';
    // A committed entry of a later term at or below its index means it can never commit.
    for (let i = p.index; i >= 1; i--) {
      const ci = this.committedAt.get(i);
      if (ci && ci.term > p.term) return 'dropped';
    }
    return 'pending';
  }

  // ------------------------------------------------------------------ faults

  private randomFault(): void {
    const r = this.rand();
    const ids = [...this.nodes.keys()].filter((id) => !this.nodes.get(id)!.retired);
    if (r < 0.08) {
      // new partition
      this.blocked.clear();
      const kind = this.int(3);
      if (kind === 0) {
        const side = new Set(ids.filter(() => this.rand() < 0.5));
        for (const a of ids)
          for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
        this.log(`symmetric partition {${[...side].join(',')}}`);
      } else if (kind === 1) {
        for (const a of ids)
          for (const b of ids) if (a !== b && this.rand() < 0.3) this.blocked.add(`${a}>${b}`);
        this.log(`asymmetric partition ${[...this.blocked].join(' ')}`);
      } else {
        const l = this.leader();
        if (l) {
          for (const b of ids)
            if (b !== l.id) {
              this.blocked.add(`${l.id}>${b}`);
              this.blocked.add(`${b}>${l.id}`);
            }
          this.log(`leader ${l.id} isolated`);
        }
      }
    } else if (r < 0.12) {
      this.blocked.clear();
      this.log('partition healed');
    } else if (r < 0.16) {
      const victim = this.pick(this.live());
      if (victim) this.crash(victim, 'by fault injection');
    } else if (r < 0.24) {
      const down = [...this.nodes.values()].filter((n) => !n.rn && !n.retired);
      const n = this.pick(down);
      if (n) this.restart(n);
    } else if (r < 0.28) {
      this.dropRate = this.rand() * 0.3;
      this.dupRate = this.rand() * 0.2;
      this.maxDelay = 1 + this.int(10);
      this.log(`net drop=${this.dropRate.toFixed(2)} dup=${this.dupRate.toFixed(2)} delay<=${this.maxDelay}`);
    } else if (r < 0.32) {
      this.changeMembership();
    } else if (r < 0.35) {
      const l = this.leader();
      const voters = l
        ? l
            .rn!.raft.trk.voterIds()
            .map(Number)
            .filter((id) => id !== l.id)
        : [];
      const to = this.pick(voters);
      if (l && to) {
        this.log(`transfer leadership ${l.id} -> ${to}`);
        l.rn!.transferLeader(BigInt(to));
      }
    } else if (r < 0.4) {
      this.compact();
    } else if (r < 0.6) {
      const n = this.pick(this.live());
      if (n) this.propose(n, false);
    } else if (r < 0.65) {
      this.startRead();
    }
  }

  /**
   * Linearizable reads: a ReadIndex issued now must come back with an index at least as high as every
   * entry already known committed (applied anywhere) when it was issued.
   */
  private startRead(): void {
    const n = this.pick(this.live());
    if (!n) return;
    const ctx = `r${this.readCounter++}`;
    this.pendingReads.set(ctx, this.maxCommitted);
    n.rn!.readIndex(enc.encode(ctx));
  }

  private checkReadStates(n: SimNode, rd: Ready): void {
    for (const rs of rd.readStates) {
      const ctx = dec.decode(rs.requestCtx);
      const mustSee = this.pendingReads.get(ctx);
      if (mustSee === undefined) continue;
      this.stats.reads++;
      if (rs.index < mustSee) {
        this.fail(
          `linearizability: read ${ctx} on node ${n.id} got index ${rs.index}, but ${mustSee} was committed before it started`,
        );
      }
    }
  }

  private compact(): void {
    const n = this.pick(this.live());
    if (!n) return;
    const applied = n.sm.applied;
    if (applied <= n.storage.firstIndex()) return;
    const data = enc.encode(JSON.stringify({ hash: n.sm.hash }));
    if (applied > n.storage.snapshot().metadata.index)
      n.storage.createSnapshot(applied, n.sm.confState, data);
    n.storage.compact(applied);
    this.log(`n${n.id} compacted to ${applied}`);
  }

  private changeMembership(): void {
    const l = this.leader();
    if (!l) return;
    const rn = l.rn!;
    const cs = rn.raft.trk.confState();
    let cc: ConfChangeV2 | undefined;
    const choice = this.int(6);
    const learners = cs.learners;
    const voters = cs.voters;
    if (cs.votersOutgoing.length > 0) {
      // Joint config with explicit leave: leave it.
      cc = { transition: ConfChangeTransition.Auto, changes: [], context: EMPTY };
    } else if (choice === 0 && this.nextId <= this.maxIds) {
      const id = this.nextId++;
      this.makeNode(id, new MemoryStorage()); // joins with an empty log; the leader catches it up
      cc = {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: BigInt(id) }],
        context: EMPTY,
      };
    } else if (choice === 1 && learners.length > 0) {
      const id = this.pick(learners)!;
      cc = {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: id }],
        context: EMPTY,
      };
    } else if (choice === 2 && voters.length > 3) {
      const id = this.pick(voters)!;
      cc = {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.RemoveNode, nodeId: id }],
        context: EMPTY,
      };
    } else if (choice === 3 && voters.length > 3) {
      // Joint: demote one voter and promote a learner (if any) at once.
      const demote = this.pick(voters)!;
      const changes = [{ type: ConfChangeType.AddLearnerNode, nodeId: demote }];
      const promote = this.pick(learners);
      if (promote !== undefined) changes.push({ type: ConfChangeType.AddNode, nodeId: promote });
      const transition =
        this.rand() < 0.5 ? ConfChangeTransition.JointImplicit : ConfChangeTransition.JointExplicit;
      cc = { transition, changes, context: EMPTY };
    } else if (choice === 5 && this.nextId <= this.maxIds) {
      // A new voter straight away (it catches up while already counting towards the quorum).
      const id = this.nextId++;
      this.makeNode(id, new MemoryStorage());
      cc = {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: BigInt(id) }],
        context: EMPTY,
      };
    } else if (choice === 4 && learners.length > 0) {
      cc = {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.RemoveNode, nodeId: this.pick(learners)! }],
        context: EMPTY,
      };
    }
    if (!cc) return;
    try {
      rn.proposeConfChange(cc);
      this.log(
        `n${l.id} proposed conf change ${cc.changes.map((c) => `${ConfChangeType[c.type]}:${c.nodeId}`).join(',')} t=${cc.transition}`,
      );
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
    }
  }

  /** Nodes no longer in the newest applied configuration are shut down, as an application would. */
  private retireRemoved(): void {
    let newest: SimNode | undefined;
    for (const n of this.nodes.values()) if (!newest || n.sm.applied > newest.sm.applied) newest = n;
    if (!newest || newest.sm.applied === 0) return;
    const cs = newest.sm.confState;
    if (cs.voters.length === 0) return;
    const members = new Set(
      [...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext].map(Number),
    );
    for (const n of this.nodes.values()) {
      if (!members.has(n.id) && !n.retired && n.id < this.nextId) {
        // Only retire nodes the config really dropped (not ones being added right now).
        if (this.wasMember(n.id)) {
          n.retired = true;
          n.rn = undefined;
          this.log(`n${n.id} retired (removed from the configuration)`);
        }
      }
    }
  }

  private readonly everMember = new Set<number>();
  private wasMember(id: number): boolean {
    return this.everMember.has(id);
  }

  /** One line per node, for failure reports. */
  describe(): string {
    const lines: string[] = [];
    for (const n of this.nodes.values()) {
      if (!n.rn) {
        lines.push(`  n${n.id}: down${n.retired ? ' (retired)' : ''} applied=${n.sm.applied}`);
        continue;
      }
      const r = n.rn.raft;
      const st = n.rn.status();
      const prs = st.progress
        ? [...st.progress]
            .map(
              ([id, p]) =>
                `${id}:${p.state[0]}${p.match}/${p.next}${p.paused ? 'P' : ''}${p.recentActive ? 'a' : ''}`,
            )
            .join(' ')
        : '';
      lines.push(
        `  n${n.id}: ${StateType[r.state]} term=${r.term} lead=${r.lead} vote=${r.vote} applied=${n.sm.applied} commit=${r.log.committed} last=${r.log.lastIndex()} first=${r.log.firstIndex()} cfg=${fmtConfState(st.config)} ${prs}`,
      );
    }
    return lines.join('\n');
  }

  // ------------------------------------------------------------------ driver

  private stepOnce(faults: boolean): void {
    this.now++;
    if (faults) this.randomFault();
    if (this.now % TICK_EVERY === 0) for (const n of this.live()) n.rn!.tick();
    this.deliverDue();
    for (const n of this.live()) this.handleReady(n);
    for (const n of this.live()) {
      const cs = n.sm.confState;
      for (const id of [...cs.voters, ...cs.learners, ...cs.votersOutgoing]) this.everMember.add(Number(id));
    }
    // A leader in a joint config that must be left explicitly proposes the leave.
    const l = this.leader();
    if (
      l &&
      l.rn!.raft.trk.config.voters.isJoint() &&
      !l.rn!.raft.trk.config.autoLeave &&
      l.rn!.raft.pendingConfIndex <= l.rn!.raft.log.applied
    ) {
      try {
        l.rn!.proposeConfChange({ transition: ConfChangeTransition.Auto, changes: [], context: EMPTY });
        for (const n of this.live()) this.handleReady(n);
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    }
    this.checkLeaders();
  }

  private runUntil(limit: number, faults: boolean, done: () => boolean): boolean {
    for (let i = 0; i < limit; i++) {
      if (done()) return true;
      this.stepOnce(faults);
    }
    return done();
  }

  run(): SimResult {
    try {
      return this.runPhases();
    } catch (e) {
      if (e instanceof SimulationError) throw e;
      this.fail(`unexpected error: ${(e as Error).stack ?? String(e)}`);
    }
  }

  private runPhases(): SimResult {
    // Warm-up: a healthy cluster elects a leader.
    if (!this.runUntil(400, false, () => this.leader() !== undefined))
      this.fail('no leader elected in a healthy cluster');
    // Proposals accepted before the fault window: each must commit or be reported dropped.
    const l = this.leader()!;
    const batch = 3 + this.int(10);
    for (let i = 0; i < batch; i++) this.propose(l, true);
    // The application handles the leader's Ready right away, which gives each proposal its log position.
    this.handleReady(l);
    this.runUntil(this.int(12), false, () => false);

    // Fault window.
    this.crashRate = 0.01;
    this.dropRate = 0.05;
    this.dupRate = 0.05;
    this.maxDelay = 4;
    const faultSteps = this.opts.faultSteps ?? 600;
    this.runUntil(faultSteps, true, () => false);

    // Heal: network repaired, crashed members restarted, removed ones retired.
    this.crashRate = 0;
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelay = 2;
    this.blocked.clear();
    this.log('healed');
    for (const n of this.nodes.values()) if (!n.rn && !n.retired) this.restart(n);
    const healSteps = this.opts.healSteps ?? 4000;
    let marker = '';
    let lastRetire = 0;
    const ok = this.runUntil(healSteps, false, () => {
      if (this.now - lastRetire > 50) {
        this.retireRemoved();
        lastRetire = this.now;
      }
      const leader = this.leader();
      if (!leader) return false;
      const lr = leader.rn!.raft;
      if (!marker) {
        const before = this.propCounter;
        if (this.propose(leader, false)) marker = `p${before}`;
        return false;
      }
      const mp = this.proposals.get(marker)!;
      const outcome = this.proposalOutcome(mp);
      if (outcome === 'dropped') {
        marker = '';
        return false;
      }
      if (outcome !== 'committed') return false;
      // Every live member caught up with the leader's commit index.
      for (const n of this.live()) {
        const inConfig = lr.trk.progress.has(BigInt(n.id));
        if (inConfig && n.sm.applied < lr.log.committed) return false;
      }
      return true;
    });
    if (!ok) {
      const leader = this.leader();
      this.fail(
        `cluster did not recover after healing (leader: ${leader?.id ?? 'none'}, marker: ${marker})\n${this.describe()}`,
      );
    }
    // Every required proposal resolved.
    for (const p of this.proposals.values()) {
      const o = this.proposalOutcome(p);
      if (o === 'committed') this.stats.proposals.committed++;
      if (p.required && o === 'pending')
        this.fail(`proposal ${p.key} (index ${p.index}) neither committed nor dropped`);
    }
    // All live members agree on the state at the same index.
    const leader = this.leader()!;
    const want = this.committedAt.get(leader.sm.applied)?.hash;
    for (const n of this.live()) {
      if (!leader.rn!.raft.trk.progress.has(BigInt(n.id))) continue;
      const h = n.sm.applied === leader.sm.applied ? n.sm.hash : undefined;
      if (h !== undefined && h !== want)
        this.fail(`node ${n.id} state differs from leader at ${n.sm.applied}`);
    }
    this.stats.committed = this.maxCommitted;
    return this.stats;
  }
}

/** Runs one seed; throws SimulationError (with the seed) on any violated invariant. */
export function runSimulation(seed: number, opts?: SimOptions): SimResult {
  return new Simulation(seed, opts).run();
}

export { emptyConfState };
