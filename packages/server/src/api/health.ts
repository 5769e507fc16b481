/**
 * grpc.health.v1.Health, which etcd registers too (load balancers, Kubernetes gRPC probes and
 * grpc_health_probe use it). etcd serves grpc-go's health server with one service, "" (the whole
 * server): Check answers its status, and Watch streams it — the current status at once, then every
 * change, never the same status twice in a row; a service it does not know is answered NOT_FOUND
 * "unknown service" by Check and SERVICE_UNKNOWN by Watch (whose stream then stays open, as grpc-go's).
 * kv's status is SERVING while a leader is known and NOT_SERVING without one.
 *
 * The two tiny messages are hand-encoded: HealthCheckRequest {string service = 1},
 * HealthCheckResponse {ServingStatus status = 1}.
 */

import type { EtcdServer } from '../etcdserver/server.js';
import type { ServerCall } from '../transport/grpc/call.js';
import type { GrpcServer } from '../transport/grpc/server.js';
import { Status as GrpcCode } from '../transport/grpc/status.js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** The status of service "" (the whole server): SERVING while a leader is known. */
export function servingStatus(etcd: Pick<EtcdServer, 'leaderId'>): number {
  return etcd.leaderId !== 0n ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
}

/**
 * Reads HealthCheckRequest.service from its protobuf bytes (other fields skipped).
 * @throws Error on malformed input (the call then fails, as grpc-go's unmarshalling would)
 * @example
 * ```ts
 * decodeHealthService(Buffer.from([0x0a, 0x01, 0x78])); // 'x'
 * ```
 */
export function decodeHealthService(b: Buffer): string {
  let service = '';
  let p = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (p >= b.length) throw new Error('health: truncated varint');
      const byte = b[p++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
    throw new Error('health: varint too long');
  };
  while (p < b.length) {
    const tag = varint();
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      if (p + len > b.length) throw new Error('health: truncated field');
      if (field === 1) service = b.toString('utf8', p, p + len);
      p += len;
    } else throw new Error(`health: unsupported wire type ${wire}`);
    if (p > b.length) throw new Error('health: truncated field');
  }
  return service;
}

const encodeStatus = (status: number) => Buffer.from([0x08, status]);
const decodeStatus = (b: Buffer) => b[1] ?? 0;

/** Registers grpc.health.v1.Health/Check and /Watch on the server. */
export function registerHealth(server: GrpcServer, etcd: EtcdServer): void {
  const method = (name: 'Check' | 'Watch') => ({
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream: name === 'Watch',
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: decodeHealthService,
    responseSerialize: encodeStatus,
    responseDeserialize: decodeStatus,
    originalName: name,
  });
  server.addService(
    { check: method('Check'), watch: method('Watch') },
    {
      check: (
        call: ServerCall<string, number>,
        callback: (err: { code: number; details: string; message: string } | null, status?: number) => void,
      ) => {
        if (call.request !== '') {
          callback({ code: GrpcCode.NOT_FOUND, details: 'unknown service', message: 'unknown service' });
          return;
        }
        callback(null, servingStatus(etcd));
      },
      watch: (call: ServerCall<string, number>) => {
        if (call.request !== '') {
          call.write(ServingStatus.SERVICE_UNKNOWN);
          return;
        }
        let last = -1;
        const send = () => {
          const now = servingStatus(etcd);
          if (now === last || !call.writable) return;
          last = now;
          call.write(now);
        };
        send();
        // The server emits 'leader' whenever the known leader changes (0: none).
        etcd.on('leader', send);
        const stop = () => etcd.off('leader', send);
        call.once('cancelled', stop);
        call.once('error', stop);
      },
    },
  );
}
