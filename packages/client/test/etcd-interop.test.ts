/**
 * Interop with the real etcd 3.4: our service definitions and codecs talk gRPC to Debian's etcd through
 * @grpc/grpc-js, so every decoded field proves our field numbers and types match etcd's. The JSON mapping
 * is checked against etcd's own grpc-gateway output for the same request.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterService,
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeepPartial,
  Event_EventType,
  KVService,
  type LeaseGrantResponse,
  LeaseService,
  type LeaseTimeToLiveResponse,
  MaintenanceService,
  type MemberListResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  RangeResponse,
  type StatusResponse,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
  WatchService,
} from '../src/api/index.js';
import { type EtcdProcess, startEtcd } from './etcd-process.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

type Callback<Res> = (err: grpc.ServiceError | null, res?: Res) => void;

/** Calls a unary method on a generic grpc-js client built from one of our service definitions. */
function call<Res>(client: grpc.Client, method: string, req: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (req: unknown, cb: Callback<Res>) => void>)[method]!;
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

let etcd: EtcdProcess;
const clients: grpc.Client[] = [];

function clientFor(service: grpc.ServiceDefinition, name: string): grpc.Client {
  const Ctor = grpc.makeGenericClientConstructor(service, name);
  const c = new Ctor(etcd.grpcAddress, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

beforeAll(async () => {
  etcd = await startEtcd();
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.stop();
});

describe('against etcd 3.4.23', () => {
  it('Put, then Put with prev_kv', async () => {
    const kv = clientFor(KVService, 'KV');
    const first = await call<PutResponse>(kv, 'put', { key: enc('foo'), value: enc('bar') });
    expect(first.header?.revision).toBe(2);
    expect(first.header?.clusterId).toBeGreaterThan(0);
    expect(first.header?.memberId).toBeGreaterThan(0);
    expect(first.prevKv).toBeUndefined();
    const second = await call<PutResponse>(kv, 'put', { key: enc('foo'), value: enc('baz'), prevKv: true });
    expect(second.header?.revision).toBe(3);
    expect(dec(second.prevKv!.value)).toBe('bar');
    expect(second.prevKv).toMatchObject({ createRevision: 2, modRevision: 2, version: 1 });
  });

  it('Range with count, prefix and count_only', async () => {
    const kv = clientFor(KVService, 'KV');
    await call(kv, 'put', { key: enc('foo2'), value: enc('x') });
    const one = await call<RangeResponse>(kv, 'range', { key: enc('foo') });
    expect(one.count).toBe(1);
    expect(one.more).toBe(false);
    expect(one.kvs).toHaveLength(1);
    expect(dec(one.kvs[0]!.key)).toBe('foo');
    expect(dec(one.kvs[0]!.value)).toBe('baz');
    expect(one.kvs[0]).toMatchObject({ createRevision: 2, modRevision: 3, version: 2, lease: 0n });
    const prefix = await call<RangeResponse>(kv, 'range', {
      key: enc('foo'),
      rangeEnd: enc('fop'),
      limit: 1,
    });
    expect(prefix.count).toBe(2);
    expect(prefix.more).toBe(true);
    expect(prefix.kvs.map((k) => dec(k.key))).toEqual(['foo']);
    const countOnly = await call<RangeResponse>(kv, 'range', {
      key: enc('foo'),
      rangeEnd: enc('fop'),
      countOnly: true,
    });
    expect(countOnly.count).toBe(2);
    expect(countOnly.kvs).toEqual([]);
  });

  it('Txn with a default-valued oneof compare and nested ops', async () => {
    const kv = clientFor(KVService, 'KV');
    // create_revision == 0 means "key absent": the oneof member must be sent even though it is 0.
    const res = await call<TxnResponse>(kv, 'txn', {
      compare: [
        {
          key: enc('absent'),
          target: Compare_CompareTarget.CREATE,
          result: Compare_CompareResult.EQUAL,
          createRevision: 0,
        },
        {
          key: enc('foo'),
          target: Compare_CompareTarget.VALUE,
          result: Compare_CompareResult.EQUAL,
          value: enc('baz'),
        },
      ],
      success: [
        { requestPut: { key: enc('absent'), value: enc('now-present') } },
        { requestRange: { key: enc('absent') } },
      ],
      failure: [{ requestDeleteRange: { key: enc('foo') } }],
    });
    expect(res.succeeded).toBe(true);
    expect(res.responses).toHaveLength(2);
    expect(res.responses[0]!.responsePut?.header?.revision).toBe(res.header?.revision);
    expect(res.responses[1]!.responseRange?.kvs.map((k) => dec(k.value))).toEqual(['now-present']);
    const again = await call<TxnResponse>(kv, 'txn', {
      compare: [{ key: enc('absent'), target: Compare_CompareTarget.CREATE, createRevision: 0 }],
      failure: [{ requestRange: { key: enc('absent'), keysOnly: true } }],
    });
    expect(again.succeeded).toBe(false);
    expect(again.responses[0]!.responseRange?.kvs[0]?.value).toEqual(new Uint8Array(0));
  });

  it('LeaseGrant, attach, LeaseTimeToLive with keys', async () => {
    const lease = clientFor(LeaseService, 'Lease');
    const kv = clientFor(KVService, 'KV');
    // An id above 2^53 (etcd's own are 63-bit): the generated codecs carry lease ids as exact bigints.
    const wanted = 3182763892645462267n;
    const granted = await call<LeaseGrantResponse>(lease, 'leaseGrant', { TTL: 60, ID: wanted });
    expect(granted.TTL).toBe(60);
    expect(granted.ID).toBe(wanted);
    expect(granted.error).toBe('');
    await call(kv, 'put', { key: enc('leased'), value: enc('v'), lease: granted.ID });
    const ttl = await call<LeaseTimeToLiveResponse>(lease, 'leaseTimeToLive', { ID: granted.ID, keys: true });
    expect(ttl.ID).toBe(granted.ID);
    expect(ttl.grantedTTL).toBe(60);
    expect(ttl.TTL).toBeGreaterThan(50);
    expect(ttl.keys.map(dec)).toEqual(['leased']);
    const range = await call<RangeResponse>(kv, 'range', { key: enc('leased') });
    expect(range.kvs[0]!.lease).toBe(granted.ID);
  });

  it('Status decodes version 3.4.23 and raft fields', async () => {
    const maint = clientFor(MaintenanceService, 'Maintenance');
    const status = await call<StatusResponse>(maint, 'status', {});
    expect(status.version).toBe('3.4.23');
    expect(status.dbSize).toBeGreaterThan(0);
    expect(status.dbSizeInUse).toBeGreaterThan(0);
    expect(status.leader).toBe(status.header?.memberId);
    expect(status.raftIndex).toBeGreaterThan(0);
    expect(status.raftAppliedIndex).toBeGreaterThan(0);
    expect(status.raftTerm).toBeGreaterThanOrEqual(2);
    expect(status.errors).toEqual([]);
    expect(status.isLearner).toBe(false);
  });

  it('MemberList decodes the single member', async () => {
    const cluster = clientFor(ClusterService, 'Cluster');
    const list = await call<MemberListResponse>(cluster, 'memberList', {});
    expect(list.members).toHaveLength(1);
    const m = list.members[0]!;
    expect(m.ID).toBe(list.header?.memberId);
    expect(m.name).toBe(etcd.name);
    expect(m.peerURLs).toEqual([etcd.peerUrl]);
    expect(m.clientURLs).toEqual([etcd.clientUrl]);
    expect(m.isLearner).toBe(false);
  });

  it('Watch stream: created, then a PUT event with prev_kv', async () => {
    const watch = clientFor(WatchService, 'Watch');
    const kv = clientFor(KVService, 'KV');
    const stream = (
      watch as unknown as Record<
        string,
        () => grpc.ClientDuplexStream<DeepPartial<WatchRequest>, WatchResponse>
      >
    ).watch!.call(watch);
    const responses: WatchResponse[] = [];
    const waitFor = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => responses.length >= n && resolve();
        stream.on('data', (r: WatchResponse) => {
          responses.push(r);
          check();
        });
        stream.on('error', reject);
        check();
      });
    const created = waitFor(1);
    stream.write({ createRequest: { key: enc('watched'), prevKv: true } });
    await created;
    expect(responses[0]!.created).toBe(true);
    const evented = waitFor(2);
    await call(kv, 'put', { key: enc('watched'), value: enc('one') });
    await call(kv, 'put', { key: enc('watched'), value: enc('two') });
    await evented;
    const events = responses.slice(1).flatMap((r) => r.events);
    expect(events[0]!.type).toBe(Event_EventType.PUT);
    expect(dec(events[0]!.kv!.key)).toBe('watched');
    expect(dec(events[0]!.kv!.value)).toBe('one');
    expect(responses[1]!.watchId).toBe(responses[0]!.watchId);
    stream.end();
    stream.cancel();
  });

  it('JSON mapping equals etcd gateway output for the same Range', async () => {
    const kv = clientFor(KVService, 'KV');
    const req = { key: enc('foo'), rangeEnd: enc('fop') };
    const ours = RangeResponse.toJSON(await call<RangeResponse>(kv, 'range', req));
    const res = await fetch(`${etcd.clientUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: 'Zm9v', range_end: 'Zm9w' }),
    });
    const theirs = (await res.json()) as { header: Record<string, string> };
    // etcd's random 64-bit cluster/member ids exceed 2^53: equal as numbers, not digit for digit.
    const oursHeader = ours.header as Record<string, string>;
    for (const id of ['cluster_id', 'member_id']) {
      expect(Number(oursHeader[id])).toBe(Number(theirs.header[id]));
      oursHeader[id] = theirs.header[id]!;
    }
    expect(ours).toEqual(theirs);
    expect(RangeResponse.fromJSON(theirs)).toEqual(RangeResponse.fromJSON(ours));
  });

  it('etcdctl (Go) talks to etcd through a grpc-js proxy built from our definitions', async () => {
    // etcdctl's requests are decoded by our codecs, re-encoded towards etcd, and etcd's responses are
    // decoded and re-encoded by us for etcdctl's Go decoder: both directions of the wire format.
    const upstream = clientFor(KVService, 'KV');
    const seenPuts: PutRequest[] = [];
    const seenRanges: RangeRequest[] = [];
    const forward =
      <Req>(method: string, seen: Req[]) =>
      (c: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seen.push(c.request);
        call(upstream, method, c.request).then(
          (res) => cb(null, res),
          (err: grpc.ServiceError) => cb(err),
        );
      };
    const proxy = new grpc.Server();
    proxy.addService(KVService, { put: forward('put', seenPuts), range: forward('range', seenRanges) });
    const port = await new Promise<number>((resolve, reject) =>
      proxy.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const ctl = (...args: string[]) =>
      promisify(execFile)('etcdctl', [`--endpoints=127.0.0.1:${port}`, ...args], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
    try {
      expect((await ctl('put', 'proxied', 'first')).stdout).toBe('OK\n');
      expect((await ctl('put', 'proxied', 'second', '--prev-kv')).stdout).toBe('OK\nproxied\nfirst\n');
      expect(seenPuts.map((p) => dec(p.value))).toEqual(['first', 'second']);
      expect(seenPuts[1]).toMatchObject({ prevKv: true, lease: 0n, ignoreValue: false });
      const got = await ctl('get', 'proxied', '--prefix', '--limit=5', '--order=DESCEND', '--sort-by=MODIFY');
      expect(got.stdout).toBe('proxied\nsecond\n');
      expect(seenRanges.at(-1)).toMatchObject({
        limit: 5,
        sortOrder: 2,
        sortTarget: 3,
        rangeEnd: enc('proxiee'),
      });
    } finally {
      proxy.forceShutdown();
    }
  });

  it('reads etcdctl -w json output with fromJSON (numbers for 64-bit fields)', () => {
    const out = execFileSync('etcdctl', [`--endpoints=${etcd.clientUrl}`, 'get', 'foo', '-w', 'json'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    }).toString();
    const parsed = RangeResponse.fromJSON(JSON.parse(out));
    expect(parsed.count).toBe(1);
    expect(dec(parsed.kvs[0]!.value)).toBe('baz');
    expect(parsed.kvs[0]).toMatchObject({ createRevision: 2, modRevision: 3, version: 2 });
  });
});
