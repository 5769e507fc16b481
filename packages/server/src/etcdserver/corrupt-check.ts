/**
 * Data corruption checks between members, after etcd 3.4's etcdserver/corrupt.go:
 *
 * - {@link CorruptionChecker.initialCheck} (`--experimental-initial-corrupt-check`): before serving
 *   clients, compare this member's HashKV with every peer's at the same revision and refuse to start on
 *   a mismatch at an equal compact revision.
 * - {@link CorruptionChecker.periodicCheck} (`--experimental-corrupt-check-time`): the leader compares
 *   its hash with the peers' and raises the CORRUPT alarm through raft for a member that disagrees
 *   (including itself, when its own hash changed under an unchanged revision).
 *
 * Peers are asked as etcd asks them: `GET /members/hashkv` on their peer URLs, with peer TLS
 * ({@link PeerUrlHashFetcher} in ../peer/hashkv.ts, which also holds the route's wire format), so etcd
 * and kv members can check each other.
 */
import { join } from 'node:path';
import { AlarmRequest_AlarmAction, AlarmType } from '@kv/client/api';
import { Wal } from '@kv/wal';
import type { ServerConfig } from '../config/parse.js';
import type { Logger } from '../log/logger.js';
import { PeerUrlHashFetcher } from '../peer/hashkv.js';
import { Errors } from './errors.js';
import { idHex } from './ids.js';
import type { EtcdServer } from './server.js';

/** A member's HashKV answer. */
export interface MemberHash {
  /** Id of the member that answered (its response header's member_id). */
  memberId: bigint;
  /** Store revision the member was at (header revision). */
  revision: number;
  hash: number;
  /** -1 when the member never compacted (etcd's convention). */
  compactRevision: number;
}

/** A peer the checks ask. */
export interface CorruptCheckPeer {
  id: bigint;
  /** The peer's peer URLs (tried in order). */
  peerURLs: readonly string[];
}

/** Fetches a peer's HashKV at a revision. */
export interface PeerHashFetcher {
  /**
   * Resolves with the peer's hash at `revision`; rejects with the peer's error (its `message` is the
   * etcd error text, e.g. `etcdserver: mvcc: required revision is a future revision`).
   */
  fetch(peer: CorruptCheckPeer, revision: number, timeoutMs: number): Promise<MemberHash>;
  /** Releases connections. */
  close(): void;
}

/** The initial check found a peer whose hash differs at the same revision and compact revision. */
export class DataInconsistencyError extends Error {
  override readonly name = 'DataInconsistencyError';
  constructor(memberId: bigint) {
    // etcd: fmt.Errorf("%s found data inconsistency with peers", s.ID())
    super(`${idHex(memberId)} found data inconsistency with peers`);
  }
}

/** What the checker needs from the server. */
export interface CorruptionCheckDeps {
  memberId: bigint;
  /** This member's HashKV at its current revision. */
  localHash(): Promise<MemberHash>;
  /** The other members (never this one). */
  peers(): CorruptCheckPeer[];
  fetcher: PeerHashFetcher;
  /** Proposes an ACTIVATE CORRUPT alarm for `memberId` through raft. */
  raiseCorruptAlarm(memberId: bigint): Promise<void>;
  /** Linearizable barrier: everything committed before the call is applied when it resolves. */
  readBarrier(): Promise<void>;
  isLeader(): boolean;
  log: Logger;
  /** Per-peer request timeout (etcd uses the server's request timeout). */
  timeoutMs: number;
}

/** Outcome of one periodic pass. */
export interface PeriodicCheckResult {
  /** Peers that answered. */
  checked: number;
  /** Members the CORRUPT alarm was raised for (at most one per pass, like etcd). */
  alarmed: bigint[];
}

/** Runs the initial and the periodic corruption checks. */
export class CorruptionChecker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CorruptionCheckDeps) {}

  /** Asks every peer for its hash at `revision`; failures come back as errors, never thrown. */
  private async peerHashes(
    revision: number,
  ): Promise<Array<{ peer: CorruptCheckPeer; resp?: MemberHash; err?: Error }>> {
    const { fetcher, timeoutMs } = this.deps;
    return Promise.all(
      this.deps.peers().map((peer) =>
        fetcher.fetch(peer, revision, timeoutMs).then(
          (resp) => ({ peer, resp }),
          (err: unknown) => ({ peer, err: err instanceof Error ? err : new Error(String(err)) }),
        ),
      ),
    );
  }

  /**
   * etcd's CheckInitialHashKV: throws {@link DataInconsistencyError} when a peer at the same compact
   * revision has a different hash. Peers that are behind, compacted past us or unreachable are logged
   * and skipped (they cannot be compared).
   */
  async initialCheck(): Promise<void> {
    const { log, memberId } = this.deps;
    log.info('starting initial corruption check', {
      'local-member-id': idHex(memberId),
      timeout: goDuration(this.deps.timeoutMs),
    });
    const local = await this.deps.localHash();
    let mismatch = 0;
    for (const { peer, resp, err } of await this.peerHashes(local.revision)) {
      const fields = {
        'local-member-id': idHex(memberId),
        'local-member-revision': local.revision,
        'local-member-compact-revision': local.compactRevision,
        'local-member-hash': local.hash,
        'remote-peer-id': idHex(peer.id),
        'remote-peer-endpoints': peer.peerURLs,
      };
      if (resp) {
        if (resp.hash === local.hash) continue;
        if (resp.compactRevision === local.compactRevision) {
          log.warn('found different hash values from remote peer', {
            ...fields,
            'remote-peer-compact-revision': resp.compactRevision,
            'remote-peer-hash': resp.hash,
          });
          mismatch++;
        } else {
          log.warn('found different compact revision values from remote peer', {
            ...fields,
            'remote-peer-compact-revision': resp.compactRevision,
          });
        }
        continue;
      }
      if (err?.message === Errors.futureRev().message) {
        log.warn('cannot fetch hash from slow remote peer', { ...fields, error: err.message });
      } else if (err?.message === Errors.compacted().message) {
        log.warn('cannot fetch hash from remote peer; local member is behind', {
          ...fields,
          error: err.message,
        });
      } else {
        log.warn('cannot fetch hash from remote peer', { ...fields, error: err?.message });
      }
    }
    if (mismatch > 0) throw new DataInconsistencyError(memberId);
    log.info('initial corruption checking passed; no corruption', { 'local-member-id': idHex(memberId) });
  }

  /**
   * etcd's checkHashKV, run on the leader: hash locally, fetch the peers' hashes at that revision, pass
   * a read barrier and hash again. Raises CORRUPT for this member when its hash changed while revision
   * and compact revision did not; for a peer ahead of the leader (revision or compact revision) or with
   * a different hash at the leader's compact revision.
   */
  async periodicCheck(): Promise<PeriodicCheckResult> {
    const { log, memberId } = this.deps;
    const first = await this.deps.localHash();
    const peers = await this.peerHashes(first.revision);
    await this.deps.readBarrier();
    const second = await this.deps.localHash();
    const alarmed: bigint[] = [];
    const mismatch = (id: bigint) => {
      if (alarmed.length > 0) return; // one alarm per pass, like etcd
      alarmed.push(id);
    };
    if (
      second.hash !== first.hash &&
      second.revision === first.revision &&
      second.compactRevision === first.compactRevision
    ) {
      log.warn('found hash mismatch', {
        revision: first.revision,
        'compact-revision': first.compactRevision,
        hash: first.hash,
        'revision-2': second.revision,
        'compact-revision-2': second.compactRevision,
        'hash-2': second.hash,
      });
      mismatch(memberId);
    }
    let checked = 0;
    for (const { peer, resp } of peers) {
      if (!resp) continue;
      checked++;
      const id = resp.memberId || peer.id;
      if (resp.revision > second.revision) {
        log.warn("revision from follower must be less than or equal to leader's", {
          'leader-revision': second.revision,
          'follower-revision': resp.revision,
          'follower-peer-id': idHex(id),
        });
        mismatch(id);
      }
      if (resp.compactRevision > second.compactRevision) {
        log.warn("compact revision from follower must be less than or equal to leader's", {
          'leader-compact-revision': second.compactRevision,
          'follower-compact-revision': resp.compactRevision,
          'follower-peer-id': idHex(id),
        });
        mismatch(id);
      }
      if (resp.compactRevision === first.compactRevision && resp.hash !== first.hash) {
        log.warn('same compact revision then hashes must match', {
          'leader-compact-revision': first.compactRevision,
          'leader-hash': first.hash,
          'follower-compact-revision': resp.compactRevision,
          'follower-hash': resp.hash,
          'follower-peer-id': idHex(id),
        });
        mismatch(id);
      }
    }
    log.info('finished peer corruption check', { 'number-of-peers-checked': checked });
    for (const id of alarmed) {
      await this.deps
        .raiseCorruptAlarm(id)
        .catch((err: unknown) =>
          log.warn('failed to raise CORRUPT alarm', { 'member-id': idHex(id), error: err }),
        );
    }
    return { checked, alarmed };
  }

  /** etcd's monitorKVHash: every `periodMs`, if this member leads, run {@link periodicCheck}. */
  start(periodMs: number): void {
    if (periodMs <= 0 || this.timer) return;
    this.deps.log.info('enabled corruption checking', {
      'local-member-id': idHex(this.deps.memberId),
      interval: goDuration(periodMs),
    });
    this.timer = setInterval(() => {
      if (!this.deps.isLeader()) return;
      this.running = this.running.then(() =>
        this.periodicCheck().catch((err: unknown) =>
          this.deps.log.warn('failed to check hash KV', { error: err }),
        ),
      );
    }, periodMs);
    this.timer.unref?.();
  }

  /** Stops the periodic check and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.deps.fetcher.close();
  }
}

/**
 * Whether this member has data from an earlier run (its WAL exists). etcd runs the initial check only
 * then: a member that is starting for the first time has nothing to compare. Call before starting it.
 */
export function memberInitialized(cfg: Pick<ServerConfig, 'dataDir' | 'walDir'>): boolean {
  return Wal.exists(cfg.walDir || join(cfg.dataDir, 'member', 'wal'));
}

/** A duration the way Go prints it in etcd's logs: `150ms`, `7s`, `1m30s`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** Options of {@link corruptionCheckerFor}. */
export interface CorruptionCheckerOptions {
  /**
   * Test only: members to treat as peers in addition to the cluster's. Lets single-member servers be
   * checked against each other.
   */
  extraPeers?: readonly CorruptCheckPeer[];
  /** Default: {@link PeerUrlHashFetcher} with the member's peer TLS. */
  fetcher?: PeerHashFetcher;
}

/** The checker of a running server: peers from its membership, alarms through its raft log. */
export function corruptionCheckerFor(
  etcd: EtcdServer,
  log: Logger,
  opts: CorruptionCheckerOptions = {},
): CorruptionChecker {
  return new CorruptionChecker({
    memberId: etcd.memberId,
    async localHash() {
      const r = await etcd.store.mvcc.hashKV(0);
      return {
        memberId: etcd.memberId,
        revision: r.revision,
        hash: r.hash,
        compactRevision: r.compactRevision || -1,
      };
    },
    peers: () => [
      ...etcd.membership
        .list()
        .filter((m) => m.id !== etcd.memberId && m.peerURLs.length > 0)
        .map((m) => ({ id: m.id, peerURLs: m.peerURLs })),
      ...(opts.extraPeers ?? []),
    ],
    fetcher: opts.fetcher ?? new PeerUrlHashFetcher(etcd.opts.peerDial),
    async raiseCorruptAlarm(memberId) {
      await etcd.propose({
        alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: memberId, alarm: AlarmType.CORRUPT },
      });
    },
    readBarrier: () => etcd.readBarrier(),
    isLeader: () => etcd.isLeader,
    log,
    // etcd's request timeout: 5 s + 2 × election timeout.
    timeoutMs: 5000 + 2 * etcd.cfg.electionMs,
  });
}
