/** Test helpers: promisified grpc-js clients built from the generated service definitions. */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  type WatchResponse,
  WatchService,
} from '@kv/client/api';
import { Logger } from '../src/log/logger.js';

// biome-ignore lint/suspicious/noExplicitAny: test helper over generic clients
type Any = any;

/** A unary call as a promise. */
export function call<T = Any>(client: Any, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](req, (err: grpc.ServiceError | null, resp: T) => (err ? reject(err) : resolve(resp)));
  });
}

/** Clients for every service on one address. */
export function connect(address: string) {
  const make = (def: Any, name: string) => {
    const Ctor = grpc.makeGenericClientConstructor(def, name);
    return new Ctor(address, grpc.credentials.createInsecure()) as Any;
  };
  const kv = make(KVService, 'KV');
  const watch = make(WatchService, 'Watch');
  const lease = make(LeaseService, 'Lease');
  const cluster = make(ClusterService, 'Cluster');
  const maintenance = make(MaintenanceService, 'Maintenance');
  return {
    kv,
    watch,
    lease,
    cluster,
    maintenance,
    close() {
      for (const c of [kv, watch, lease, cluster, maintenance]) c.close();
    },
  };
}

export const b = (s: string): Buffer => Buffer.from(s);
export const s = (u: Uint8Array): string => Buffer.from(u).toString();

/**
 * Collects watch responses from a bidi stream until `until` says stop (or timeout). On a timeout the
 * error names `label` (which server and step) and what arrived per watch id (events, fragments, how
 * long ago the last response came), so an intermittent stall says where it happened.
 */
export function collectWatch(
  stream: grpc.ClientDuplexStream<unknown, WatchResponse>,
  until: (all: WatchResponse[]) => boolean,
  timeoutMs = 5000,
  label = '',
): Promise<WatchResponse[]> {
  const all: WatchResponse[] = [];
  const started = Date.now();
  let lastAt = started;
  return new Promise((resolve, reject) => {
    // The error listener stays: a stream cancelled after this resolves emits 'error' (CANCELLED), and
    // without a listener that would throw.
    const stop = () => {
      clearTimeout(timer);
      stream.off('data', onData);
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(
          `watch${label ? ` (${label})` : ''} timed out with ${all.length} responses, the last ` +
            `${Date.now() - lastAt} ms ago; per watch id: ${summarizeWatch(all)}`,
        ),
      );
    }, timeoutMs);
    const onData = (r: WatchResponse) => {
      all.push(r);
      lastAt = Date.now();
      if (until(all)) {
        stop();
        resolve(all);
      }
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    stream.on('data', onData);
    stream.on('error', onError);
  });
}

/** `id: responses/events (fragments f, created, canceled)` per watch id, for failure messages. */
function summarizeWatch(all: WatchResponse[]): string {
  const by = new Map<string, { responses: number; events: number; fragments: number; flags: Set<string> }>();
  for (const r of all) {
    const id = String(r.watchId);
    let e = by.get(id);
    if (!e) by.set(id, (e = { responses: 0, events: 0, fragments: 0, flags: new Set() }));
    e.responses++;
    e.events += r.events.length;
    if (r.fragment) e.fragments++;
    if (r.created) e.flags.add('created');
    if (r.canceled) e.flags.add(`canceled ${r.cancelReason}`);
  }
  return [...by]
    .map(
      ([id, e]) =>
        `${id}: ${e.responses}/${e.events} (fragments ${e.fragments}${[...e.flags].map((f) => `, ${f}`).join('')})`,
    )
    .join('; ');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bytes of a Maintenance.Snapshot stream (what `etcdctl snapshot save` writes to its file). */
export function readSnapshot(maintenance: Any): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const stream = maintenance.snapshot({});
    stream.on('data', (r: { blob: Uint8Array }) => chunks.push(Buffer.from(r.blob)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * An HTTP/1.1 `GET path` with `Connection: close` over a raw loopback socket: `text()` is what has
 * arrived so far, `closed` resolves when the socket closes (the whole answer is in by then).
 */
export function rawGet(port: number, path: string): { text: () => string; closed: Promise<void> } {
  let text = '';
  const sock = net.connect(port, '127.0.0.1', () =>
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
  );
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    text += d;
  });
  sock.on('error', () => undefined);
  return { text: () => text, closed: new Promise((ok) => sock.on('close', () => ok())) };
}

/** A loopback TCP port that was free a moment ago (the OS picked it; bind it soon). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? ok(a.port) : fail(new Error('no port'))));
    });
  });
}

/** An info-level logger that keeps its JSON lines, for tests that check what a server logged. */
export function memoryLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  return {
    log: new Logger('info', { write: (l: string) => out.push(l) }),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
