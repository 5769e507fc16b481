/**
 * The generated service definitions plug into grpc-js on both ends: a real grpc-js server built with
 * `addService(KVService, impl)` and a client from `makeGenericClientConstructor`, over loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeepPartial,
  ElectionService,
  GATEWAY_ROUTES,
  KVService,
  LockService,
  MaintenanceService,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type WatchRequest,
  type WatchResponse,
  WatchService,
} from '../src/api/index.js';

let server: grpc.Server;
let address: string;
const stored = new Map<string, Uint8Array>();
const key = (b: Uint8Array) => new TextDecoder().decode(b);

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(KVService, {
    put: (call: grpc.ServerUnaryCall<PutRequest, PutResponse>, cb: grpc.sendUnaryData<unknown>) => {
      stored.set(key(call.request.key), call.request.value);
      cb(null, { header: { revision: stored.size + 1 } });
    },
    range: (call: grpc.ServerUnaryCall<RangeRequest, RangeResponse>, cb: grpc.sendUnaryData<unknown>) => {
      const v = stored.get(key(call.request.key));
      cb(null, { kvs: v ? [{ key: call.request.key, value: v, version: 1 }] : [], count: v ? 1 : 0 });
    },
  });
  server.addService(WatchService, {
    // Original (PascalCase) names are accepted too, as grpc-js looks up `originalName`.
    Watch: (call: grpc.ServerDuplexStream<WatchRequest, DeepPartial<WatchResponse>>) => {
      call.on('data', (req: WatchRequest) => {
        if (req.createRequest) call.write({ created: true, watchId: req.createRequest.watchId });
        else call.end();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
});

describe('grpc-js service definitions', () => {
  it('serve and call unary methods with our codecs', async () => {
    const Ctor = grpc.makeGenericClientConstructor(KVService, 'KV');
    const client = new Ctor(address, grpc.credentials.createInsecure());
    const unary = <T>(method: string, req: unknown) =>
      new Promise<T>((resolve, reject) =>
        (client[method] as (r: unknown, cb: (e: Error | null, v?: T) => void) => void).call(
          client,
          req,
          (e, v) => (e ? reject(e) : resolve(v as T)),
        ),
      );
    const put = await unary<PutResponse>('put', {
      key: new TextEncoder().encode('a'),
      value: new Uint8Array([1, 2]),
    });
    expect(put.header?.revision).toBe(2);
    // The PascalCase alias from originalName works on clients too.
    const range = await unary<RangeResponse>('Range', { key: new TextEncoder().encode('a') });
    expect(range.kvs[0]?.value).toEqual(new Uint8Array([1, 2]));
    expect(range.count).toBe(1);
    client.close();
  });

  it('stream bidirectionally', async () => {
    const Ctor = grpc.makeGenericClientConstructor(WatchService, 'Watch');
    const client = new Ctor(address, grpc.credentials.createInsecure());
    const stream = (client.watch as () => grpc.ClientDuplexStream<unknown, WatchResponse>).call(client);
    const first = new Promise<WatchResponse>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    stream.write({ createRequest: { watchId: 7n } });
    expect(await first).toMatchObject({ created: true, watchId: 7n, canceled: false, events: [] });
    stream.end();
    client.close();
  });

  it('describes methods like etcd does', () => {
    expect(KVService.range).toMatchObject({
      path: '/etcdserverpb.KV/Range',
      requestStream: false,
      responseStream: false,
      originalName: 'Range',
    });
    expect(WatchService.watch).toMatchObject({ requestStream: true, responseStream: true });
    expect(MaintenanceService.snapshot).toMatchObject({ requestStream: false, responseStream: true });
    expect(LockService.lock.path).toBe('/v3lockpb.Lock/Lock');
    expect(ElectionService.observe).toMatchObject({
      path: '/v3electionpb.Election/Observe',
      responseStream: true,
    });
  });
});

describe('GATEWAY_ROUTES', () => {
  it('maps gateway paths to service methods and codecs', () => {
    const range = GATEWAY_ROUTES['/v3/kv/range']!;
    expect(range).toMatchObject({
      httpMethod: 'POST',
      service: 'etcdserverpb.KV',
      method: 'Range',
      key: 'range',
    });
    expect(range.request.fromJSON({ key: 'Zm9v' })).toMatchObject({ key: new TextEncoder().encode('foo') });
    // JSON in, protobuf to the handler and back, JSON out: what the gateway does per request.
    const msg = range.request.fromJSON({ key: 'Zm9v', limit: 3 });
    expect(range.request.toJSON(range.request.decode(range.request.encode(msg)))).toEqual({
      key: 'Zm9v',
      limit: '3',
    });
    expect(range.response.typeName).toBe('etcdserverpb.RangeResponse');
    expect(GATEWAY_ROUTES['/v3/kv/lease/revoke']?.method).toBe('LeaseRevoke');
    expect(GATEWAY_ROUTES['/v3/lease/revoke']?.method).toBe('LeaseRevoke');
    expect(GATEWAY_ROUTES['/v3/watch']).toMatchObject({
      service: 'etcdserverpb.Watch',
      requestStream: true,
      responseStream: true,
    });
    expect(GATEWAY_ROUTES['/v3/kv/put']).toMatchObject({ requestStream: false, responseStream: false });
    expect(GATEWAY_ROUTES['/v3/maintenance/transfer-leadership']?.method).toBe('MoveLeader');
    expect(GATEWAY_ROUTES['/v3/lock/lock']?.service).toBe('v3lockpb.Lock');
    expect(GATEWAY_ROUTES['/v3/election/observe']?.responseStream).toBe(true);
  });

  it('covers every RPC of every etcd service', () => {
    const services = [KVService, WatchService, MaintenanceService, LockService, ElectionService];
    const routed = new Set(Object.values(GATEWAY_ROUTES).map((r) => `${r.service}/${r.method}`));
    for (const svc of services) {
      for (const def of Object.values(svc)) expect(routed.has(def.path.slice(1))).toBe(true);
    }
    expect(new Set(Object.values(GATEWAY_ROUTES).map((r) => r.service)).size).toBe(8);
  });
});
