/**
 * kv's backend <-> etcd 3.4's backend layout (the bbolt file `etcdctl snapshot save` writes and
 * `etcdctl snapshot restore` reads).
 *
 * Most buckets already match byte for byte — key (17/18-byte revisions -> mvccpb.KeyValue), auth,
 * authUsers, authRoles (authpb) — and are copied. The rest differ and are converted:
 * - meta: consistent_index is 8-byte big-endian in both; kv stores scheduledCompactRev and
 *   finishedCompactRev the same way, etcd as a 17-byte revision `main_0` (mvcc/kvstore.go).
 * - lease: kv stores `{"id","ttl","remainingTtl"?}` JSON (lease-record.ts); etcd stores leasepb.Lease (ID=1, TTL=2, RemainingTTL=3), which
 *   is wire-identical to kv's generated `kvpb.LeaseRecord` codec, used here.
 * - alarm: kv keys `memberID/alarm` with a JSON value; etcd keys the marshalled etcdserverpb.AlarmMember
 *   with an empty value.
 * - members / members_removed / cluster: kv keeps membership in raft snapshots, not the backend; etcd
 *   keeps JSON members keyed by hex id, `removed` markers and `clusterVersion`. Written from the live
 *   membership on export, ignored on import (a restore takes membership from its flags, as etcd's does).
 */
import { AlarmMember, LeaseRecord } from '@kv/client/api';
import {
  type Backend,
  type BboltBucketSource,
  type BboltEntry,
  type BboltReader,
  bytesToRev,
  bytesToUint64,
  Crc32c,
  compareBboltKeys,
  type ReadView,
  revToBytes,
  uint64ToBytes,
} from '@kv/mvcc';
import { type AlarmRecord, alarmKey, decodeAlarmRecord, encodeAlarmRecord } from './alarm-record.js';
import { decodeLeaseRecord, encodeLeaseRecord, leaseBucketKey } from './lease-record.js';
import type { Member } from './membership.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bucket names shared by both layouts. */
export const ETCD_BUCKETS = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  alarm: 'alarm',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
  members: 'members',
  membersRemoved: 'members_removed',
  cluster: 'cluster',
} as const;

/** Buckets whose entries are the same bytes in kv and etcd. */
const COPIED = [ETCD_BUCKETS.key, ETCD_BUCKETS.auth, ETCD_BUCKETS.authUsers, ETCD_BUCKETS.authRoles];

/** Meta keys whose value etcd stores as a revision and kv as a plain 8-byte number. */
const COMPACT_KEYS = new Set(['scheduledCompactRev', 'finishedCompactRev']);

/** A kv meta entry as etcd stores it. */
function metaToEtcd(k: Uint8Array, v: Uint8Array): BboltEntry {
  if (COMPACT_KEYS.has(dec.decode(k)) && v.length === 8) return [k, revToBytes(bytesToUint64(v), 0)];
  return [k, v];
}

/** An etcd meta entry as kv stores it. */
function metaFromEtcd(k: Uint8Array, v: Uint8Array): BboltEntry {
  if (COMPACT_KEYS.has(dec.decode(k)) && v.length >= 17) return [k, uint64ToBytes(bytesToRev(v).main)];
  return [k, v];
}

/** The cluster version etcd 3.4 records once every member runs 3.4. */
export const ETCD_CLUSTER_VERSION = '3.4.0';

/** Membership written into the members, members_removed and cluster buckets. */
export interface EtcdClusterInfo {
  members: Member[];
  removed: Iterable<bigint>;
  clusterVersion?: string;
}

/** A problem converting between the layouts (a value kv or etcd would not have written). */
export class EtcdBackendError extends Error {
  override name = 'EtcdBackendError';
}

/** etcd's json.Marshal of membership.Member: id as a JSON number, omitempty fields left out. */
function memberJson(m: Member): string {
  const parts = [`"id":${BigInt(m.id).toString()}`, `"peerURLs":${JSON.stringify(m.peerURLs)}`];
  if (m.isLearner) parts.push('"isLearner":true');
  if (m.name) parts.push(`"name":${JSON.stringify(m.name)}`);
  if (m.clientURLs.length) parts.push(`"clientURLs":${JSON.stringify(m.clientURLs)}`);
  return `{${parts.join(',')}}`;
}

const byKey = (a: BboltEntry, b: BboltEntry) => compareBboltKeys(a[0], b[0]);

async function* scan(view: ReadView, bucket: string): AsyncGenerator<BboltEntry> {
  for await (const chunk of view.scanChunks(bucket)) yield* chunk;
}

async function* mapScan(
  view: ReadView,
  bucket: string,
  fn: (k: Uint8Array, v: Uint8Array) => BboltEntry,
): AsyncGenerator<BboltEntry> {
  for await (const [k, v] of scan(view, bucket)) yield fn(k, v);
}

/**
 * etcd 3.4's buckets for the state in `view`: feed them to `planBbolt` to get the file etcd would
 * have. Each bucket reads `view` each time the writer asks, so the view must stay open until the
 * file is written.
 *
 * @example
 * ```ts
 * const view = backend.view();
 * const plan = await planBbolt(etcdBucketsFromKv(view, { members: membership.list(), removed: [] }));
 * for await (const page of plan.pages()) out.write(page);
 * view.close();
 * ```
 */
export function etcdBucketsFromKv(view: ReadView, cluster: EtcdClusterInfo): BboltBucketSource[] {
  const copied = COPIED.map((name) => ({ name, entries: () => scan(view, name) }));
  const alarms = async function* (): AsyncGenerator<BboltEntry> {
    // Keyed by the protobuf of the member, which does not sort like kv's keys: sort (a handful).
    const out: BboltEntry[] = [];
    for await (const [, v] of scan(view, ETCD_BUCKETS.alarm)) {
      let a: AlarmRecord;
      try {
        a = decodeAlarmRecord(v);
      } catch (err) {
        throw new EtcdBackendError(`alarm bucket: bad value: ${(err as Error).message}`);
      }
      out.push([AlarmMember.encode({ memberID: a.memberID, alarm: a.alarm }), new Uint8Array(0)]);
    }
    yield* out.sort(byKey);
  };
  const members = [...cluster.members]
    .map((m): BboltEntry => [enc.encode(m.id.toString(16)), enc.encode(memberJson(m))])
    .sort(byKey);
  const removed = [...cluster.removed]
    .map((id): BboltEntry => [enc.encode(id.toString(16)), enc.encode('removed')])
    .sort(byKey);
  return [
    ...copied,
    { name: ETCD_BUCKETS.meta, entries: () => mapScan(view, ETCD_BUCKETS.meta, metaToEtcd) },
    {
      name: ETCD_BUCKETS.lease,
      // Same 8-byte big-endian keys in both layouts, so the order carries over.
      entries: () =>
        mapScan(view, ETCD_BUCKETS.lease, (k, v) => {
          let l: ReturnType<typeof decodeLeaseRecord>;
          try {
            l = decodeLeaseRecord(v);
          } catch (err) {
            throw new EtcdBackendError(`lease bucket: ${(err as Error).message}`);
          }
          return [k, LeaseRecord.encode({ ID: l.id, TTL: l.ttl, RemainingTTL: l.remainingTtl })];
        }),
    },
    { name: ETCD_BUCKETS.alarm, entries: alarms },
    { name: ETCD_BUCKETS.members, entries: () => members },
    { name: ETCD_BUCKETS.membersRemoved, entries: () => removed },
    {
      name: ETCD_BUCKETS.cluster,
      entries: () => [
        [enc.encode('clusterVersion'), enc.encode(cluster.clusterVersion ?? ETCD_CLUSTER_VERSION)],
      ],
    },
  ];
}

/** What {@link loadEtcdBackend} wrote. */
export interface EtcdLoadResult {
  /** Entries written, per kv bucket. */
  entries: Record<string, number>;
}

const LOAD_BATCH = 10_000;

/**
 * Writes the state of an etcd 3.4 database into `backend` in kv's layout (the backend should be
 * empty). Membership buckets are not carried over.
 *
 * @example
 * ```ts
 * const backend = await openBackend({ engine: 'memory' });
 * await loadEtcdBackend(BboltReader.open('etcd.db'), backend);
 * const store = await MvccStore.open(backend);
 * ```
 */
export async function loadEtcdBackend(db: BboltReader, backend: Backend): Promise<EtcdLoadResult> {
  const counts: Record<string, number> = {};
  let batch = backend.batch();
  const put = async (bucket: string, k: Uint8Array, v: Uint8Array) => {
    // The reader hands out views into its pages: copy before they outlive the page.
    batch.put(bucket, k.slice(), v.slice());
    counts[bucket] = (counts[bucket] ?? 0) + 1;
    if (batch.length >= LOAD_BATCH) {
      await batch.commit();
      batch = backend.batch();
    }
  };
  for (const name of COPIED) {
    for (const [k, v] of db.bucket(name)?.entries() ?? []) await put(name, k, v);
  }
  for (const [k, v] of db.bucket(ETCD_BUCKETS.meta)?.entries() ?? []) {
    await put(ETCD_BUCKETS.meta, ...metaFromEtcd(k, v));
  }
  for (const [k, v] of db.bucket(ETCD_BUCKETS.lease)?.entries() ?? []) {
    let lease: LeaseRecord;
    try {
      lease = LeaseRecord.decode(v);
    } catch (err) {
      throw new EtcdBackendError(`lease bucket: bad leasepb.Lease: ${(err as Error).message}`);
    }
    if (k.length !== 8) throw new EtcdBackendError(`lease bucket: key of ${k.length} bytes, want 8`);
    // The key holds the id too (8 bytes big-endian, as in kv's bucket); the record's ID is what etcd's
    // lessor reads back, so that one is taken.
    const id = lease.ID;
    const rec = { id, ttl: lease.TTL, remainingTtl: lease.RemainingTTL };
    await put(ETCD_BUCKETS.lease, leaseBucketKey(id), encodeLeaseRecord(rec));
  }
  for (const [k] of db.bucket(ETCD_BUCKETS.alarm)?.entries() ?? []) {
    let a: AlarmMember;
    try {
      a = AlarmMember.decode(k);
    } catch (err) {
      throw new EtcdBackendError(`alarm bucket: bad AlarmMember: ${(err as Error).message}`);
    }
    const rec: AlarmRecord = { memberID: a.memberID, alarm: a.alarm };
    await put(ETCD_BUCKETS.alarm, enc.encode(alarmKey(rec)), encodeAlarmRecord(rec));
  }
  await batch.commit();
  return { entries: counts };
}

/** `etcdctl snapshot status` of an etcd database. */
export interface EtcdDbStatus {
  /** CRC-32C over every bucket name, key and value, in file order. */
  hash: number;
  /** Main revision of the last key-bucket entry. */
  revision: number;
  /** Entries in every bucket. */
  totalKey: number;
  /** Database size (pages × page size), without a snapshot's hash trailer. */
  totalSize: number;
}

/**
 * Computes what `etcdctl snapshot status` prints for a bbolt database, the same way
 * (clientv3/snapshot v3Manager.Status).
 *
 * @example
 * ```ts
 * const st = etcdDbStatus(BboltReader.open('snap.db')); // { hash, revision, totalKey, totalSize }
 * ```
 */
export function etcdDbStatus(db: BboltReader): EtcdDbStatus {
  const crc = new Crc32c();
  let revision = 0;
  let totalKey = 0;
  for (const top of db.root.items()) {
    if (!top.bucket) continue; // etcdctl fails on a top-level non-bucket; bbolt never writes one
    crc.update(top.key);
    const isKey = dec.decode(top.key) === ETCD_BUCKETS.key;
    // bbolt's ForEach yields nested buckets too, with a nil value.
    for (const item of top.bucket.items()) {
      crc.update(item.key);
      if (item.value) crc.update(item.value);
      if (isKey && item.key.length >= 17) revision = bytesToRev(item.key).main;
      totalKey++;
    }
  }
  return { hash: crc.digest(), revision, totalKey, totalSize: db.size };
}
