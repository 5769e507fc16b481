/**
 * etcd's initial election tick advance (`--initial-election-tick-advance`, on by default; etcd 3.4's
 * `adjustTicks`) for a member of a multi-member cluster.
 *
 * A member starts with its election clock at zero, so without help the first election of a new cluster
 * comes a whole randomized election timeout (1-2 s with the defaults) after the peers can talk. etcd
 * moves the clock forward by `electionTicks - 2` ticks as soon as the transport reports more than one
 * remote peer active: the election then fires within a few heartbeats, and the two ticks left are the
 * margin for a leader's message that is already on its way (a restarted member of a running cluster
 * normally hears the leader's heartbeat within one heartbeat interval, which resets its clock). It polls every 50 ms for at most rafthttp's
 * ConnReadTimeout (5 s) and does nothing when no peers connect in that time (all peers down, or a
 * two-member cluster, whose single remote peer never makes "more than one").
 *
 * The single-member fast-forward is the server's own (`maybeFastCampaign`), as in etcd, where it does not
 * depend on this flag.
 */
import type { Logger } from '../log/logger.js';
import { goDuration } from './corrupt-check.js';

/** rafthttp's ConnReadTimeout: how long etcd waits for peer connections before giving up the advance. */
export const TICK_ADVANCE_WAIT_MS = 5000;
/** How often etcd looks at the active peer count meanwhile. */
export const TICK_ADVANCE_POLL_MS = 50;

export interface TickAdvanceDeps {
  /** Election timeout in ticks (election-timeout / heartbeat-interval). */
  electionTicks: number;
  /** One tick in milliseconds (heartbeat-interval), for the log's durations. */
  tickMs: number;
  /** The local member id, as etcd logs it. */
  localMemberId: string;
  /** Remote peers the transport currently reports active (etcd's transport.ActivePeers). */
  activePeers: () => number;
  /** Moves raft's logical clock forward by `ticks` ticks (etcd's raftNode.advanceTicks). */
  advance: (ticks: number) => void;
  /** True once the server is stopping: the wait ends without advancing. */
  stopped: () => boolean;
  log: Logger;
  /** Test hooks; etcd's values by default. */
  waitMs?: number;
  pollMs?: number;
}

/**
 * Waits for the peer connections and advances the election ticks once (see the module comment).
 * Resolves with the number of ticks advanced, 0 when it gave up or the server stopped.
 *
 * @example
 * ```ts
 * void advanceInitialElectionTicks({
 *   electionTicks: 10, tickMs: 100, localMemberId: '8e9e05c52164694d',
 *   activePeers: () => transport.activePeers(),
 *   advance: (n) => { for (let i = 0; i < n; i++) node.tick(); },
 *   stopped: () => server.stopped, log,
 * });
 * ```
 */
export async function advanceInitialElectionTicks(deps: TickAdvanceDeps): Promise<number> {
  const { log } = deps;
  log.info('starting initial election tick advance', { 'election-ticks': deps.electionTicks });
  const pollMs = deps.pollMs ?? TICK_ADVANCE_POLL_MS;
  const polls = Math.floor((deps.waitMs ?? TICK_ADVANCE_WAIT_MS) / pollMs);
  for (let i = 0; i < polls; i++) {
    await delay(pollMs);
    if (deps.stopped()) return 0;
    const peers = deps.activePeers();
    if (peers <= 1) continue;
    const ticks = deps.electionTicks - 2;
    log.info('initialized peer connections; fast-forwarding election ticks', {
      'local-member-id': deps.localMemberId,
      'forward-ticks': ticks,
      'forward-duration': goDuration(ticks * deps.tickMs),
      'election-ticks': deps.electionTicks,
      'election-timeout': goDuration(deps.electionTicks * deps.tickMs),
      'active-remote-members': peers,
    });
    deps.advance(ticks);
    return ticks;
  }
  return 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
