/**
 * The data of a raft snapshot as etcd 3.4 writes it: its v2 store serialized as JSON (v2store.Save), which
 * holds the cluster's membership (`/0/members/<hex id>/{raftAttributes,attributes}`,
 * `/0/removed_members/<hex id>`) and version (`/0/version`). An etcd 3.4 member that receives a snapshot
 * recovers its v2 store and member list from exactly this JSON, so kv writes it for every snapshot it
 * sends, and reads it (as well as kv's own older format, see snapshots.ts) from snapshots it receives.
 * kv serves no v2 key space: only the membership part of the tree is written or read.
 */
import type { Member } from './membership.js';

/** The membership facts a v2 store snapshot carries. */
export interface V2Membership {
  members: Member[];
  /** Hex ids of removed members. */
  removed: string[];
  clusterVersion: string | undefined;
}

/** etcd's v2 event history length (v2store.newWatchHub(1000)). */
const EVENT_QUEUE_CAPACITY = 1000;

/** Go's zero time.Time as encoding/json writes it (v2 nodes without a TTL). */
const NO_EXPIRY = '0001-01-01T00:00:00Z';

interface V2Node {
  Path: string;
  CreatedIndex: number;
  ModifiedIndex: number;
  ExpireTime: string;
  Value: string;
  Children: Record<string, V2Node> | null;
}

/** Whether a snapshot's data is a v2 store JSON (etcd's format) rather than kv's own. */
export function isV2StoreSnapshot(data: Uint8Array): boolean {
  // json.Marshal of the store struct always starts with its first field.
  const head = '{"Root":';
  if (data.length < head.length) return false;
  for (let i = 0; i < head.length; i++) if (data[i] !== head.charCodeAt(i)) return false;
  return true;
}

/**
 * Serializes membership as etcd 3.4's v2 store JSON.
 *
 * @example
 * ```ts
 * const data = encodeV2StoreSnapshot({ members, removed: [], clusterVersion: '3.4.0' }, idHex);
 * ```
 */
export function encodeV2StoreSnapshot(state: V2Membership, hex: (id: Member['id']) => string): Uint8Array {
  let index = 0;
  const dir = (path: string, children: Record<string, V2Node>, at = ++index): V2Node => ({
    Path: path,
    CreatedIndex: at,
    ModifiedIndex: at,
    ExpireTime: NO_EXPIRY,
    Value: '',
    Children: children,
  });
  const leaf = (path: string, value: string): V2Node => {
    const at = ++index;
    return {
      Path: path,
      CreatedIndex: at,
      ModifiedIndex: at,
      ExpireTime: NO_EXPIRY,
      Value: value,
      Children: null,
    };
  };
  const members: Record<string, V2Node> = {};
  for (const m of state.members) {
    const id = hex(m.id);
    const base = `/0/members/${id}`;
    const raft: { peerURLs: string[]; isLearner?: boolean } = { peerURLs: m.peerURLs };
    if (m.isLearner) raft.isLearner = true;
    const children: Record<string, V2Node> = {
      raftAttributes: leaf(`${base}/raftAttributes`, JSON.stringify(raft)),
    };
    if (m.name || m.clientURLs.length) {
      const attrs: { name?: string; clientURLs?: string[] } = {};
      if (m.name) attrs.name = m.name;
      if (m.clientURLs.length) attrs.clientURLs = m.clientURLs;
      children.attributes = leaf(`${base}/attributes`, JSON.stringify(attrs));
    }
    members[id] = dir(base, children);
  }
  const zero: Record<string, V2Node> = { members: dir('/0/members', members) };
  if (state.removed.length) {
    const removed: Record<string, V2Node> = {};
    for (const id of state.removed) removed[id] = leaf(`/0/removed_members/${id}`, '');
    zero.removed_members = dir('/0/removed_members', removed);
  }
  if (state.clusterVersion) zero.version = leaf('/0/version', state.clusterVersion);
  const root: V2Node = {
    ...dir('/', { 0: dir('/0', zero, 0), 1: dir('/1', {}, 0) }, 0),
  };
  const store = {
    Root: root,
    WatcherHub: {
      EventHistory: {
        // etcd's event queue writes into a slice of Capacity slots after recovery: all slots must be
        // present (as nulls), or the first v2 write after a restore indexes past the end and panics.
        Queue: {
          Events: new Array(EVENT_QUEUE_CAPACITY).fill(null),
          Size: 0,
          Front: 0,
          Back: 0,
          Capacity: EVENT_QUEUE_CAPACITY,
        },
        StartIndex: 0,
        LastIndex: 0,
      },
    },
    CurrentIndex: index,
    Stats: {
      getsSuccess: 0,
      getsFail: 0,
      setsSuccess: 0,
      setsFail: 0,
      deleteSuccess: 0,
      deleteFail: 0,
      updateSuccess: 0,
      updateFail: 0,
      createSuccess: 0,
      createFail: 0,
      compareAndSwapSuccess: 0,
      compareAndSwapFail: 0,
      compareAndDeleteSuccess: 0,
      compareAndDeleteFail: 0,
      expireCount: 0,
      watchers: 0,
    },
    CurrentVersion: 2,
  };
  return new TextEncoder().encode(JSON.stringify(store));
}

/**
 * Reads membership from an etcd 3.4 snapshot's v2 store JSON. Member ids are hex strings here; the caller
 * turns them into its id type. Throws on JSON that is not a v2 store.
 */
export function decodeV2StoreSnapshot(
  data: Uint8Array,
  parseId: (hex: string) => Member['id'],
): V2Membership {
  const store = JSON.parse(new TextDecoder().decode(data)) as { Root?: V2Node };
  const zero = store.Root?.Children?.['0'];
  if (!store.Root || !zero) throw new Error('not an etcd v2 store snapshot (no /0 directory)');
  const kids = zero.Children ?? {};
  const members: Member[] = [];
  for (const [hex, node] of Object.entries(kids.members?.Children ?? {})) {
    const raft = JSON.parse(node.Children?.raftAttributes?.Value || '{}') as {
      peerURLs?: string[];
      isLearner?: boolean;
    };
    const attrs = JSON.parse(node.Children?.attributes?.Value || '{}') as {
      name?: string;
      clientURLs?: string[];
    };
    members.push({
      id: parseId(hex),
      name: attrs.name ?? '',
      peerURLs: raft.peerURLs ?? [],
      clientURLs: attrs.clientURLs ?? [],
      isLearner: raft.isLearner === true,
    });
  }
  return {
    members,
    removed: Object.keys(kids.removed_members?.Children ?? {}),
    clusterVersion: kids.version?.Value || undefined,
  };
}
