// grpc.health.v1.Health/Watch as grpc_health_probe-style clients use it, with a real gRPC client
// (grpc-js) against a real server process: the current status at once on a stream that stays open,
// Check alongside, and SERVICE_UNKNOWN for a service the server does not know. Runs against etcd too
// (KV_E2E_TARGET=etcd), which registers grpc-go's health server with service "" SERVING.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess, sleep } from './support/server.js';

const SERVING = 1;
const SERVICE_UNKNOWN = 3;

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
  responseSerialize: (n: number) => Buffer.from([0x08, n]),
  // HealthCheckResponse {ServingStatus status = 1}; an empty message is UNKNOWN (0).
  responseDeserialize: (b: Buffer) => (b.length >= 2 && b[0] === 0x08 ? b[1]! : 0),
});
const HealthClient = grpc.makeGenericClientConstructor(
  { check: method('Check', false), watch: method('Watch', true) },
  'Health',
);

let server: ServerProcess;
// biome-ignore lint/suspicious/noExplicitAny: generic grpc-js client
let health: any;

beforeAll(async () => {
  server = await ServerProcess.start();
  health = new HealthClient(server.endpoint.replace('http://', ''), grpc.credentials.createInsecure());
}, 60_000);
afterAll(async () => {
  health?.close();
  await server?.destroy();
});

/** Opens a Watch and collects statuses for `ms`; reports whether the stream was still open then. */
async function watchFor(service: string, ms: number): Promise<{ statuses: number[]; open: boolean }> {
  const stream: grpc.ClientReadableStream<number> = health.watch(request(service));
  const statuses: number[] = [];
  let ended = false;
  stream.on('data', (s: number) => statuses.push(s));
  stream.on('error', () => {
    ended = true;
  });
  stream.on('end', () => {
    ended = true;
  });
  await sleep(ms);
  const open = !ended;
  stream.cancel();
  return { statuses, open };
}

describe('grpc.health.v1.Health/Watch', () => {
  it('streams SERVING for the server ("") at once and keeps the stream open', async () => {
    const { statuses, open } = await watchFor('', 1500);
    expect(statuses).toEqual([SERVING]);
    expect(open).toBe(true);
  });

  it('answers Check with SERVING alongside', async () => {
    const status = await new Promise<number>((resolve, reject) =>
      health.check(request(''), (err: grpc.ServiceError | null, s: number) =>
        err ? reject(err) : resolve(s),
      ),
    );
    expect(status).toBe(SERVING);
  });

  it('answers a Watch on an unknown service with SERVICE_UNKNOWN, the stream staying open', async () => {
    const { statuses, open } = await watchFor('no.such.Service', 1000);
    expect(statuses).toEqual([SERVICE_UNKNOWN]);
    expect(open).toBe(true);
  });
});
