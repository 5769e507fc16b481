/**
 * Leadership transfer (etcd's MoveLeader and TransferLeadership on stop): ask raft to hand leadership
 * to a voter, then wait until that voter is the known leader.
 */
import type { EventEmitter } from 'node:events';
import type { ProgressStatus } from '@kv/raft';
import type { Logger } from '../log/logger.js';
import { Errors } from './errors.js';
import { idHex } from './ids.js';

/** What a transfer needs from the server: its ids, raft's transfer, and its `'leader'` events. */
export interface LeadershipHost extends Pick<EventEmitter, 'on' | 'off'> {
  readonly memberId: bigint;
  readonly leaderId: bigint;
  transferLeadership(to: bigint): void;
}

/**
 * Moves leadership to `to` and resolves once it leads, failing with `etcdserver: request timed out`
 * after `timeoutMs`.
 *
 * @example
 * ```ts
 * await moveLeader(server, targetId, 7000, log);
 * ```
 */
export async function moveLeader(
  host: LeadershipHost,
  to: bigint,
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  if (host.leaderId === to) return;
  log.info('leadership transfer starting', {
    'local-member-id': idHex(host.memberId),
    'current-leader-member-id': idHex(host.leaderId),
    'transferee-member-id': idHex(to),
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      host.off('leader', onLeader);
      reject(Errors.timeout());
    }, timeoutMs);
    const onLeader = (lead: bigint) => {
      if (lead !== to) return;
      clearTimeout(timer);
      host.off('leader', onLeader);
      resolve();
    };
    host.on('leader', onLeader);
    host.transferLeadership(to);
  });
  log.info('leadership transfer finished', {
    'local-member-id': idHex(host.memberId),
    'transferee-member-id': idHex(to),
  });
}

/** The voter (not `self`, not a learner) with the longest replicated log, or 0 when there is none. */
export function mostUpToDateVoter(progress: ReadonlyMap<bigint, ProgressStatus>, self: bigint): bigint {
  let best = 0n;
  let bestMatch = -1;
  for (const [id, pr] of progress) {
    if (id === self || pr.isLearner) continue;
    if (pr.match > bestMatch) {
      best = id;
      bestMatch = pr.match;
    }
  }
  return best;
}
