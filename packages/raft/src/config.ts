import { ConfigError } from './errors.js';
import type { ReadOnlyOption } from './read-only.js';
import type { Storage } from './storage.js';

/** Receives diagnostics; raft never writes to the console itself. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/** Parameters of one raft node. */
export interface Config {
  /** This node's id: a uint64 (etcd's member id), must not be 0. */
  id: bigint;
  /**
   * Ticks a follower waits without hearing from a leader before it campaigns. The actual timeout is
   * drawn from [electionTick, 2*electionTick) after each term change. Must exceed heartbeatTick
   * (etcd suggests 10 × heartbeatTick).
   */
  electionTick: number;
  /** Ticks between leader heartbeats. */
  heartbeatTick: number;
  /** The stable log. Raft reads it; the application writes it from each Ready. */
  storage: Storage;
  /** Last applied index when restarting, so already-applied entries are not handed out again. */
  applied?: number;
  /**
   * Upper bound in bytes of the entries in one MsgApp; at least one entry is always sent, so 0 means one
   * entry per message and Infinity means no limit.
   */
  maxSizePerMsg: number;
  /** Upper bound in bytes of committed entries handed out in one Ready (unlimited if unset). */
  maxCommittedSizePerReady?: number;
  /** Upper bound in bytes of uncommitted payload a leader accepts; proposals past it are dropped. */
  maxUncommittedEntriesSize?: number;
  /** Max MsgApp in flight (unacknowledged) per follower in the replicate state. */
  maxInflightMsgs: number;
  /** Optional byte budget of in-flight MsgApp per follower (0 = none). */
  maxInflightBytes?: number;
  /** Leader steps down when it has not heard from a quorum within an election timeout. */
  checkQuorum: boolean;
  /** Run a pre-election first so a partitioned node does not disrupt the cluster when it rejoins. */
  preVote: boolean;
  /**
   * 'safe' confirms leadership with a heartbeat round per ReadIndex; 'lease-based' trusts the election
   * lease (needs checkQuorum; depends on bounded clock drift).
   */
  readOnlyOption: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding: boolean;
  /** A leader removed from the configuration steps down right away (default false, as in etcd). */
  stepDownOnRemoval?: boolean;
  /** Seed of the PRNG that randomizes election timeouts (default: derived from `id`). */
  seed?: number;
  /** Random source in [0, 1); overrides `seed`. */
  random?: () => number;
  logger?: Logger;
}

/** Largest node id: ids are uint64 on the wire. */
const MAX_NODE_ID = (1n << 64n) - 1n;

const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

/** Config with defaults filled in and checked. */
export interface ValidatedConfig extends Config {
  maxCommittedSizePerReady: number;
  maxUncommittedEntriesSize: number;
  maxInflightBytes: number;
  applied: number;
  logger: Logger;
}

export function validateConfig(c: Config): ValidatedConfig {
  if (typeof c.id !== 'bigint' || c.id <= 0n) throw new ConfigError('cannot use none as id');
  if (c.id > MAX_NODE_ID) throw new ConfigError(`node id ${c.id} does not fit in 64 bits`);
  if (c.heartbeatTick <= 0) throw new ConfigError('heartbeat tick must be greater than 0');
  if (c.electionTick <= c.heartbeatTick)
    throw new ConfigError('election tick must be greater than heartbeat tick');
  if (!c.storage) throw new ConfigError('storage cannot be nil');
  if (c.maxInflightMsgs <= 0) throw new ConfigError('max inflight messages must be greater than 0');
  if (c.readOnlyOption === 'lease-based' && !c.checkQuorum) {
    throw new ConfigError('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  return {
    ...c,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? Number.POSITIVE_INFINITY,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? Number.POSITIVE_INFINITY,
    maxInflightBytes: c.maxInflightBytes ?? 0,
    applied: c.applied ?? 0,
    logger: c.logger ?? silentLogger,
  };
}
