/**
 * grpc.health.v1.Health as grpc_health_probe and Kubernetes' gRPC probes use it, through grpc-js:
 * Check, and the streaming Watch — SERVING at once, NOT_SERVING when the member loses its leader (a
 * voting member added at an unreachable address takes the quorum away), unknown services answered as
 * grpc-go's health server (etcd's) answers them. The decoder of the request is checked on its own.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHealthService, ServingStatus } from '../src/api/health.js';
import { type StartedServer, startServer } from '../src/index.js';
import { call, connect } from './helpers.js';

/** HealthCheckRequest {string service = 1}. */
const request = (service: string) =>
  service === ''
    ? Buffer.alloc(0)
    : Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(service)]), Buffer.from(service)]);

const method = (name: string, responseStream: boolean) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  // HealthCheckResponse {ServingStatus status = 1}; an empty message is UNKNOWN (0).
  responseSerialize: (n: number) => Buffer.from([0x08, n]),
  responseDeserialize: (b: Buffer) => (b.length >= 2 && b[0] === 0x08 ? b[1]! : 0),
});
const HealthClient = grpc.makeGenericClientConstructor(
  { check: method('Check', false), watch: method('Watch', true) },
  'Health',
);

/** Collects Watch statuses until `n` have arrived. */
function watchStatuses(stream: grpc.ClientReadableStream<number>, n: number): Promise<number[]> {
  const got: number[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (s: number) => {
      got.push(s);
      if (got.length === n) resolve(got);
    });
    stream.on('error', (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}

describe('grpc.health.v1.Health', () => {
  let srv: StartedServer;
  // biome-ignore lint/suspicious/noExplicitAny: generic grpc-js client
  let health: any;
  beforeAll(async () => {
    srv = await startServer({ args: ['--heartbeat-interval', '20', '--election-timeout', '200'] });
    health = new HealthClient(srv.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    health.close();
    await srv.close();
  });

  it('Check: SERVING for the server (""), NOT_FOUND for another service', async () => {
    expect(await call(health, 'check', request(''))).toBe(ServingStatus.SERVING);
    const err = (await call(health, 'check', request('etcdserverpb.KV')).catch(
      (e: unknown) => e,
    )) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('unknown service');
  });

  it('Watch on another service answers SERVICE_UNKNOWN', async () => {
    const stream = health.watch(request('no.such.Service'));
    expect(await watchStatuses(stream, 1)).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    stream.cancel();
  });

  it('Watch streams SERVING now and NOT_SERVING once the member has no leader', async () => {
    const stream = health.watch(request(''));
    const statuses = watchStatuses(stream, 2);
    const first = await new Promise<number>((resolve) => stream.once('data', resolve));
    expect(first).toBe(ServingStatus.SERVING);
    // A second voter that never answers: the lone member loses quorum and steps down (check quorum).
    const c = connect(srv.address);
    await call(c.cluster, 'memberAdd', { peerURLs: ['http://127.0.0.1:9'] });
    c.close();
    expect(await statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(await call(health, 'check', request(''))).toBe(ServingStatus.NOT_SERVING);
    stream.cancel();
  });
});

describe('decodeHealthService', () => {
  it('reads field 1, skips other fields, rejects truncated input', () => {
    expect(decodeHealthService(Buffer.alloc(0))).toBe('');
    expect(decodeHealthService(request('etcd'))).toBe('etcd');
    // An unknown varint field 2 before the service.
    expect(decodeHealthService(Buffer.concat([Buffer.from([0x10, 0x96, 0x01]), request('x')]))).toBe('x');
    expect(() => decodeHealthService(Buffer.from([0x0a, 0x05, 0x61]))).toThrow('truncated');
    expect(() => decodeHealthService(Buffer.from([0x0a]))).toThrow('truncated');
  });
});
