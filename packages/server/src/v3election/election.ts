/**
 * etcd's v3election semantics (server/etcdserver/api/v3election on clientv3/concurrency.Election).
 * A candidate's key is `<name>/<lease hex>` holding its proposal; the leader is the key created first
 * under the prefix; Campaign returns once every earlier candidate's key is gone. A LeaderKey
 * {name, key, rev (create_revision), lease} identifies a leadership: Proclaim and Resign act only while
 * the key still has that create_revision.
 */
import {
  type CampaignRequest,
  type CampaignResponse,
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeepPartial,
  Event_EventType,
  type KeyValue,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  type ProclaimRequest,
  type ProclaimResponse,
  type ResignRequest,
  type ResignResponse,
  type ResponseHeader,
} from '@kv/client/api';
import {
  CallCancelledError,
  ElectionNoLeaderError,
  ElectionNotLeaderError,
  MissingLeaderKeyError,
  SessionExpiredError,
} from '../v3lock/errors.js';
import { type FacadeWatchResponse, type KvFacade, sessionLease } from '../v3lock/facade.js';
import { contenderKey, keyPrefix, prefixEnd } from '../v3lock/keys.js';
import { firstCreatedRequest, waitDeletes } from '../v3lock/wait.js';

const EMPTY = new Uint8Array(0);
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/** Txn comparing the leader key's create_revision with the leadership's. */
function leaderCompare(l: DeepPartial<LeaderKey>) {
  return {
    key: l.key ?? EMPTY,
    target: Compare_CompareTarget.CREATE,
    result: Compare_CompareResult.EQUAL,
    createRevision: l.rev ?? 0,
  };
}

/**
 * Campaigns for leadership of `req.name` with `req.value`, bound to `req.lease`; resolves once elected.
 * Aborting (client cancel) withdraws the candidacy.
 */
export async function campaign(
  facade: KvFacade,
  req: DeepPartial<CampaignRequest>,
  signal?: AbortSignal,
): Promise<CampaignResponse> {
  const name = req.name ?? EMPTY;
  const value = req.value ?? EMPTY;
  const lease = await sessionLease(facade, req.lease);
  const prefix = keyPrefix(name);
  const key = contenderKey(prefix, lease);
  const t = await facade.txn({
    compare: [
      { key, target: Compare_CompareTarget.CREATE, result: Compare_CompareResult.EQUAL, createRevision: 0 },
    ],
    success: [{ requestPut: { key, value, lease } }],
    failure: [{ requestRange: { key } }],
  });
  const leader: LeaderKey = { name, key, rev: t.header?.revision ?? 0, lease };
  if (!t.succeeded) {
    // Campaigning again with the same lease resumes the old candidacy (and proclaims the new value).
    const kv = t.responses[0]?.responseRange?.kvs[0];
    if (kv) {
      leader.rev = kv.createRevision;
      if (!sameBytes(kv.value, value)) {
        try {
          await proclaim(facade, { leader, value });
        } catch (err) {
          await resign(facade, { leader }).catch(() => undefined);
          throw err;
        }
      }
    }
  }
  try {
    await waitDeletes(facade, prefix, leader.rev - 1, signal);
  } catch (err) {
    if (err instanceof CallCancelledError) await resign(facade, { leader }).catch(() => undefined);
    throw err;
  }
  const mine = await facade.range({ key });
  if (mine.kvs.length === 0 || mine.kvs[0]!.createRevision !== leader.rev) throw new SessionExpiredError();
  return { header: t.header, leader };
}

/** Updates the leader's value without a new election; "election: not leader" if it lost the key. */
export async function proclaim(
  facade: KvFacade,
  req: DeepPartial<ProclaimRequest>,
): Promise<ProclaimResponse> {
  if (!req.leader) throw new MissingLeaderKeyError();
  const t = await facade.txn({
    compare: [leaderCompare(req.leader)],
    success: [{ requestPut: { key: req.leader.key ?? EMPTY, value: req.value ?? EMPTY, ignoreLease: true } }],
  });
  if (!t.succeeded) throw new ElectionNotLeaderError();
  return { header: t.header };
}

/** Gives up leadership: deletes the leader key if it is still this leadership's (never an error otherwise). */
export async function resign(facade: KvFacade, req: DeepPartial<ResignRequest>): Promise<ResignResponse> {
  if (!req.leader) throw new MissingLeaderKeyError();
  const t = await facade.txn({
    compare: [leaderCompare(req.leader)],
    success: [{ requestDeleteRange: { key: req.leader.key ?? EMPTY } }],
  });
  return { header: t.header };
}

/** The current leader's key-value; "election: no leader" when there is no candidate. */
export async function leader(facade: KvFacade, req: DeepPartial<LeaderRequest>): Promise<LeaderResponse> {
  const r = await facade.range(firstCreatedRequest(keyPrefix(req.name ?? EMPTY)));
  if (r.kvs.length === 0) throw new ElectionNoLeaderError();
  return { header: r.header, kv: r.kvs[0] };
}

/** Queue of watch deliveries turned into an async pull that also wakes on abort. */
class WatchQueue {
  private items: FacadeWatchResponse[] = [];
  private wake?: () => void;

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  push = (r: FacadeWatchResponse): void => {
    this.items.push(r);
    this.wake?.();
  };

  /** The next delivery, or undefined once aborted. */
  async next(): Promise<FacadeWatchResponse | undefined> {
    while (this.items.length === 0) {
      if (this.signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return this.items.shift();
  }
}

/**
 * Streams the leader and every proclamation, in order (etcd's Election.Observe): the current leader
 * (or the first put under the prefix when there is none), then each new value of that key until it is
 * deleted, then the next leader. Resolves when `signal` aborts or a watch is cancelled by the server.
 */
export async function observe(
  facade: KvFacade,
  req: DeepPartial<LeaderRequest>,
  send: (r: LeaderResponse) => unknown,
  signal?: AbortSignal,
): Promise<void> {
  const prefix = keyPrefix(req.name ?? EMPTY);
  while (!signal?.aborted) {
    const r = await facade.range(firstCreatedRequest(prefix));
    let kv: KeyValue | undefined;
    let header: ResponseHeader | undefined;
    if (r.kvs.length === 0) {
      // No leader yet: wait for the first put under the prefix (deletes are ignored, as in etcd).
      const q = new WatchQueue(signal);
      const w = facade.watch(
        { key: prefix, rangeEnd: prefixEnd(prefix), startRevision: r.header?.revision ?? 0 },
        q.push,
      );
      try {
        while (!kv) {
          const wr = await q.next();
          if (!wr || wr.canceled) return;
          const put = wr.events.find((e) => e.type === Event_EventType.PUT && e.kv);
          if (put?.kv) {
            kv = put.kv;
            header = {
              ...(wr.header ?? { clusterId: 0n, memberId: 0n, raftTerm: 0 }),
              revision: kv.modRevision,
            };
          }
        }
      } finally {
        w.cancel();
      }
    } else {
      kv = r.kvs[0]!;
      header = r.header;
    }
    await send({ header, kv });
    // Follow this leader's key until it is deleted.
    const q = new WatchQueue(signal);
    const w = facade.watch({ key: kv.key, startRevision: (header?.revision ?? 0) + 1 }, q.push);
    try {
      for (let deleted = false; !deleted; ) {
        const wr = await q.next();
        if (!wr || wr.canceled) return;
        for (const ev of wr.events) {
          if (ev.type === Event_EventType.DELETE) {
            deleted = true;
            break;
          }
          await send({ header: wr.header, kv: ev.kv });
        }
      }
    } finally {
      w.cancel();
    }
  }
}
