/**
 * HTTP/1.1 on the client port: the grpc-gateway style JSON API at /v3/... (etcd's JSON mapping from the
 * generated codecs: snake_case names, int64 as strings, bytes as base64), streamed calls as
 * newline-delimited `{"result": ...}` objects, plus /health, /version and /metrics. Integers in request
 * bodies beyond 2^53 are read exactly (exact-json.ts).
 */
import type * as http from 'node:http';
import { GATEWAY_ROUTES, type GatewayRoute, type WatchRequest } from '@kv/client/api';
import { createServerFacade } from '../api/concurrency.js';
import { Handlers } from '../api/handlers.js';
import type { CallContext } from '../api/identity.js';
import { WatchSession } from '../api/watch.js';
import { EtcdError, toEtcdError } from '../etcdserver/errors.js';
import { CLUSTER_VERSION, type EtcdServer, SERVER_VERSION } from '../etcdserver/server.js';
import { Status } from '../transport/grpc/status.js';
import { observe } from '../v3election/election.js';
import { electionUnaryHandlers } from '../v3election/handlers.js';
import { lockUnaryHandlers } from '../v3lock/handlers.js';
import { quoteLargeIntegers } from './exact-json.js';

/** grpc-gateway's mapping of gRPC codes to HTTP statuses. */
const HTTP_STATUS: Record<number, number> = {
  [Status.OK]: 200,
  [Status.CANCELLED]: 408,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.UNAUTHENTICATED]: 401,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
};

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  /** Serve /v3/... (false on --listen-metrics-urls listeners, which serve /metrics and /health only). */
  serveGateway: boolean;
}

/** Reads a request body up to `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new EtcdError(Status.INVALID_ARGUMENT, 'etcdserver: request is too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const e = toEtcdError(err);
  if (res.headersSent) {
    res.end(
      `${JSON.stringify({ error: { grpc_code: e.code, http_code: HTTP_STATUS[e.code] ?? 500, message: e.message } })}\n`,
    );
    return;
  }
  sendJson(res, HTTP_STATUS[e.code] ?? 500, { error: e.message, message: e.message, code: e.code });
}

/** Builds the request listener for one HTTP server. */
export function createHttpHandler(
  etcd: EtcdServer,
  opts: HttpHandlerOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const handlers = new Handlers(etcd, etcd.cfg);
  const bodyLimit = etcd.cfg.maxRequestBytes + 512 * 1024;
  return (req, res) => {
    const url = (req.url ?? '/').split('?')[0]!;
    if (url === '/health' || url === '/health/') {
      void health(etcd).then((ok) => {
        (ok ? etcd.metrics.healthSuccess : etcd.metrics.healthFailures).inc();
        sendJson(res, ok ? 200 : 503, { health: ok ? 'true' : 'false' });
      });
      return;
    }
    if (url === '/metrics') {
      void serveMetrics(etcd, res);
      return;
    }
    if (!opts.serveGateway) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    if (url === '/version') {
      sendJson(res, 200, { etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION });
      return;
    }
    const path = url.replace(/^\/v3(alpha|beta)\//, '/v3/');
    const route = GATEWAY_ROUTES[path];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    if (req.method !== route.httpMethod) {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method Not Allowed\n');
      return;
    }
    void serveRoute(etcd, handlers, route, req, res, bodyLimit).catch((err: unknown) => sendError(res, err));
  };
}

async function serveRoute(
  etcd: EtcdServer,
  handlers: Handlers,
  route: GatewayRoute,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bodyLimit: number,
): Promise<void> {
  const body = await readBody(req, bodyLimit);
  let json: unknown = {};
  if (body.length) {
    try {
      json = JSON.parse(quoteLargeIntegers(body.toString('utf8')));
    } catch (err) {
      throw new EtcdError(
        Status.INVALID_ARGUMENT,
        `invalid character in request body: ${(err as Error).message}`,
      );
    }
  }
  let request: unknown;
  try {
    request = route.request.fromJSON(json);
  } catch (err) {
    throw new EtcdError(Status.INVALID_ARGUMENT, (err as Error).message);
  }
  const toJson = (m: unknown) => route.response.toJSON(m as never);
  const service = route.service;
  // The caller: etcd's gateway forwards the Authorization header as the token.
  const identity = () => handlers.identity.fromHttpRequest(req);
  const ctx: CallContext = identity();
  const isConcurrency = service === 'v3lockpb.Lock' || service === 'v3electionpb.Election';
  // A client that goes away cancels a Lock/Campaign wait (and withdraws its key).
  const abort = new AbortController();
  if (isConcurrency) res.on('close', () => abort.abort());
  if (route.responseStream) {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const line = (m: unknown) => res.write(`${JSON.stringify({ result: toJson(m) })}\n`);
    if (service === 'etcdserverpb.Watch') {
      const session = new WatchSession(
        etcd,
        {
          write: (m) => line(m),
          onDrain: (cb) => res.once('drain', cb),
        },
        identity,
      );
      session.handle(request as WatchRequest);
      res.on('close', () => session.close());
      return;
    }
    if (route.key === 'leaseKeepAlive') {
      line(await handlers.lease.keepAliveOnce((request as { ID: bigint }).ID));
      res.end();
      return;
    }
    if (route.key === 'snapshot') {
      for await (const chunk of handlers.maintenance.snapshot(ctx)) {
        if (!line(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    if (route.key === 'observe') {
      const facade = createServerFacade(handlers, identity);
      try {
        await observe(facade, request as never, (m) => (line(m) ? undefined : drained(res)), abort.signal);
        res.end();
      } catch (err) {
        if (!abort.signal.aborted) sendError(res, err);
      }
      return;
    }
    throw new EtcdError(Status.UNIMPLEMENTED, `unknown method ${route.method}`);
  }
  if (isConcurrency) {
    const facade = createServerFacade(handlers, identity);
    const table = new Map(
      service === 'v3lockpb.Lock' ? lockUnaryHandlers(facade) : electionUnaryHandlers(facade),
    );
    const fn = table.get(`${service}/${route.key}`);
    if (!fn) throw new EtcdError(Status.UNIMPLEMENTED, `unknown method ${route.method}`);
    try {
      sendJson(res, 200, toJson(await fn(request as never, abort.signal)));
    } catch (err) {
      // etcd's lock/election servers answer every failure as UNKNOWN with the original text.
      if (!abort.signal.aborted) sendError(res, new EtcdError(Status.UNKNOWN, (err as Error).message));
    }
    return;
  }
  const fn = handlers.unary.get(`${service}/${route.key}`);
  if (!fn) throw new EtcdError(Status.UNIMPLEMENTED, `unknown method ${route.method}`);
  const resp = await fn(request, ctx);
  sendJson(res, 200, toJson(resp));
}

/** Resolves when the response's buffer drained. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once('drain', () => resolve()));
}

/** etcd 3.4's /health: a leader exists, no alarm, and a serializable read... here: leader + no alarm. */
async function health(etcd: EtcdServer): Promise<boolean> {
  if (etcd.leaderId === 0n) return false;
  if (etcd.applier.alarms.length) return false;
  try {
    await Promise.race([
      etcd.readBarrier(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** /metrics, counted in promhttp's own families as Go's promhttp handler counts itself. */
async function serveMetrics(etcd: EtcdServer, res: http.ServerResponse): Promise<void> {
  const m = etcd.metrics;
  m.scrapesInFlight.inc();
  try {
    const text = await m.scrape();
    res.writeHead(200, { 'Content-Type': m.registry.contentType });
    res.end(text);
    // Counted after the response, as promhttp does: a scrape reports the scrapes before it.
    m.scrapes.inc(SCRAPE_OK);
  } catch (err) {
    m.scrapes.inc(SCRAPE_FAILED);
    sendJson(res, 500, { error: String(err) });
  } finally {
    m.scrapesInFlight.dec();
  }
}

const SCRAPE_OK = { code: '200' };
const SCRAPE_FAILED = { code: '500' };
