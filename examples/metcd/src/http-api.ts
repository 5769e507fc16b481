/**
 * metcd's two HTTP servers. The client API follows raftexample (and the source document's curl lines):
 *
 *   PUT    /KEY          body = value; 204 once applied on this member
 *   GET    /KEY          200 value (this member's applied state), 404 if absent
 *   GET    /KEY?linearizable   the same after a raft ReadIndex round (sees every acknowledged write)
 *   DELETE /KEY          204 once applied
 *   POST   /member/ID    body = the new member's peer URL; 204 once the conf change is applied
 *   DELETE /member/ID    204 once applied (the removed member shuts itself down)
 *   GET    /status       JSON: leader, term, indexes, members, snapshot counters
 *
 * `member/...` and `status` are therefore not usable as keys. The peer server takes POST /raft.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ProtoDecodeError } from '@kv/raft';
import type { Logger } from '@kv/server';
import { nodeId } from './node-id.js';
import { MembershipError, NoLeaderError, ProposalTimeoutError, type Replica } from './replica.js';
import { decodeFrames, RAFT_PATH } from './transport.js';

const MAX_BODY = 64 * 1024 * 1024;

/** A request the API refuses, with its HTTP status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The client API server (not listening yet).
 *
 * @example
 * ```ts
 * const api = createApiServer(replica, logger);
 * api.listen(12380, '127.0.0.1');
 * // curl -L http://127.0.0.1:12380/hello -XPUT -d world
 * ```
 */
export function createApiServer(replica: Replica, log: Logger): Server {
  return createServer((req, res) => {
    handleApi(replica, req, res).catch((e: unknown) => fail(res, e, log));
  });
}

/**
 * The peer server: POST /raft with length-prefixed raft messages (see transport.ts).
 *
 * @example
 * ```ts
 * createPeerServer(replica, logger).listen(12379, '127.0.0.1');
 * ```
 */
export function createPeerServer(replica: Replica, log: Logger): Server {
  return createServer((req, res) => {
    (async () => {
      if (req.method !== 'POST' || req.url !== RAFT_PATH) throw new HttpError(404, 'not found');
      const messages = decodeFrames(await readBody(req));
      for (const m of messages) replica.step(m);
      res.writeHead(204).end();
    })().catch((e: unknown) => fail(res, e, log));
  });
}

async function handleApi(replica: Replica, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://metcd');
  const path = decodeURIComponent(url.pathname.slice(1));
  if (path === 'status') {
    if (req.method !== 'GET') throw new HttpError(405, 'status is read-only');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(replica.status()));
    return;
  }
  const member = /^member\/(.+)$/.exec(path);
  if (member) {
    const id = parseMemberId(member[1]!);
    if (req.method === 'POST') {
      const peerUrl = Buffer.from(await readBody(req))
        .toString('utf8')
        .trim();
      if (!/^http:\/\/[^/\s]+$/.test(peerUrl))
        throw new HttpError(400, 'body must be the peer URL (http://host:port)');
      await replica.addMember(id, peerUrl);
    } else if (req.method === 'DELETE') {
      await replica.removeMember(id);
    } else throw new HttpError(405, 'use POST or DELETE on /member/ID');
    res.writeHead(204).end();
    return;
  }
  if (path === '') throw new HttpError(400, 'missing key: use /KEY');
  const key = Buffer.from(path, 'utf8');
  if (req.method === 'GET') {
    const value = url.searchParams.has('linearizable')
      ? await replica.getLinearizable(key)
      : await replica.get(key);
    if (value === undefined) throw new HttpError(404, 'key not found');
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(value);
  } else if (req.method === 'PUT') {
    await replica.put(key, await readBody(req));
    res.writeHead(204).end();
  } else if (req.method === 'DELETE') {
    await replica.delete(key);
    res.writeHead(204).end();
  } else throw new HttpError(405, 'use GET, PUT or DELETE on /KEY');
}

function parseMemberId(s: string) {
  try {
    return nodeId(s);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Maps errors to statuses: 503 retry later (no leader), 504 outcome unknown (timeout), 409 bad membership,
 * 400 undecodable input (a bad %-escape in a key, a truncated or malformed raft frame).
 */
function fail(res: ServerResponse, e: unknown, log: Logger): void {
  const status =
    e instanceof HttpError
      ? e.status
      : e instanceof NoLeaderError
        ? 503
        : e instanceof ProposalTimeoutError
          ? 504
          : e instanceof MembershipError
            ? 409
            : e instanceof RangeError || e instanceof URIError || e instanceof ProtoDecodeError
              ? 400
              : 500;
  if (status === 500) log.error('request failed', { error: e });
  if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${(e as Error).message}\n`);
}
