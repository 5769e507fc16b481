/**
 * Raft snapshot data in etcd 3.4's format (a v2 store as JSON). The reader is checked on a snapshot file
 * written by a real etcd in this test; the writer by reading back its own output and comparing the shape
 * with etcd's (the fields etcd's json.Unmarshal and event queue rely on).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSnapshot } from '@kv/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdProcess, startEtcd } from '../../client/test/etcd-process.js';
import { idHex, parseIdHex } from '../src/etcdserver/ids.js';
import {
  decodeV2StoreSnapshot,
  encodeV2StoreSnapshot,
  isV2StoreSnapshot,
} from '../src/etcdserver/v2store-snapshot.js';

/** Reads etcd's snappb.Snapshot {1: crc, 2: data} and returns the data (a raftpb.Snapshot). */
function snappbData(file: Uint8Array): Uint8Array {
  let i = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = file[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < file.length) {
    const tag = varint();
    if (tag === 1 << 3) varint();
    else if (tag === ((2 << 3) | 2)) {
      const len = varint();
      return file.subarray(i, i + len);
    } else throw new Error(`unexpected snappb tag ${tag}`);
  }
  throw new Error('no data in snappb.Snapshot');
}

let etcd: EtcdProcess;
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, walked by path below
type Json = any;
let etcdJson: Json;
let etcdData: Uint8Array;

beforeAll(async () => {
  etcd = await startEtcd({ name: 'v2snap', args: ['--snapshot-count=5'] });
  for (let i = 0; i < 15; i++) {
    const res = await fetch(`${etcd.clientUrl}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(`k${i}`).toString('base64'), value: 'dg==' }),
    });
    expect(res.status).toBe(200);
  }
  const snapDir = await waitForSnapDir(etcd.dir);
  const file = readdirSync(snapDir)
    .filter((f) => f.endsWith('.snap'))
    .sort()
    .pop()!;
  etcdData = decodeSnapshot(snappbData(readFileSync(join(snapDir, file)))).data;
  etcdJson = JSON.parse(Buffer.from(etcdData).toString());
}, 60_000);

afterAll(async () => etcd?.stop());

/** The snap dir under etcd's data dir once it holds a snapshot file. */
async function waitForSnapDir(dir: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const found = findSnapDir(dir);
    if (found && readdirSync(found).some((f) => f.endsWith('.snap'))) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd wrote no snapshot under ${dir}`);
}

function findSnapDir(dir: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name === 'snap' && dir.endsWith('member')) return p;
    const inner = findSnapDir(p);
    if (inner) return inner;
  }
  return undefined;
}

describe('v2 store snapshots', () => {
  it("reads the membership out of a real etcd's snapshot", () => {
    expect(isV2StoreSnapshot(etcdData)).toBe(true);
    const got = decodeV2StoreSnapshot(etcdData, parseIdHex);
    expect(got.clusterVersion).toBe('3.4.0');
    expect(got.removed).toEqual([]);
    expect(got.members).toHaveLength(1);
    expect(got.members[0]).toMatchObject({
      name: 'v2snap',
      peerURLs: [etcd.peerUrl],
      clientURLs: [etcd.clientUrl],
      isLearner: false,
    });
    expect(got.members[0]!.id).toBeGreaterThan(0n);
  });

  it('writes what it reads, in the shape etcd writes', () => {
    const members = [
      {
        id: 0xfd422379fda50e48n,
        name: 'a',
        peerURLs: ['http://p1'],
        clientURLs: ['http://c1'],
        isLearner: false,
      },
      { id: 0x77n, name: '', peerURLs: ['http://p2'], clientURLs: [], isLearner: true },
    ];
    const data = encodeV2StoreSnapshot({ members, removed: ['99'], clusterVersion: '3.4.0' }, idHex);
    expect(isV2StoreSnapshot(data)).toBe(true);
    const back = decodeV2StoreSnapshot(data, parseIdHex);
    const byId = (x: { id: bigint }, y: { id: bigint }) => (x.id < y.id ? -1 : 1);
    expect(back.members.sort(byId)).toEqual([...members].sort(byId));
    expect(back.removed).toEqual(['99']);
    expect(back.clusterVersion).toBe('3.4.0');

    const ours = JSON.parse(Buffer.from(data).toString());
    expect(Object.keys(ours)).toEqual(Object.keys(etcdJson));
    const queue = (j: Json) => j.WatcherHub.EventHistory.Queue;
    expect(queue(ours).Events).toHaveLength(queue(etcdJson).Capacity);
    expect(queue(ours).Capacity).toBe(queue(etcdJson).Capacity);
    expect(Object.keys(ours.Stats)).toEqual(Object.keys(etcdJson.Stats));
    const node = (j: Json) => j.Root.Children['0'].Children.members;
    const etcdMember = Object.values(node(etcdJson).Children)[0] as Json;
    const ourMember = node(ours).Children.fd422379fda50e48;
    expect(Object.keys(ourMember)).toEqual(Object.keys(etcdMember));
    expect(Object.keys(ourMember.Children).sort()).toEqual(Object.keys(etcdMember.Children).sort());
    expect(ours.Root.Children['1']).toMatchObject({ Path: '/1', Children: {} });
  });
});
