/**
 * Write back-pressure from a client that does not read, through the transport to kv's streaming
 * handlers: LeaseKeepAlive and Watch stop producing answers while their stream's output is stuck
 * (counted by grpc_server_msg_sent_total), then deliver every answer, in order, once the client reads.
 * A real in-process server; the client is the raw frame writer (h2-raw.ts), which can open no window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { encodeFrame, Flag, FrameType, settingsPayload, u32 } from '../src/transport/grpc/h2-frame.js';
import { grpcDataFrame, grpcRequestBlock, headersFrame, RawH2 } from './h2-raw.js';
import { b, call, connect } from './helpers.js';

/** A protobuf varint. */
function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** grpc_server_msg_sent_total of one method, read from /metrics. */
async function sentCount(endpoint: string, method: string): Promise<number> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('grpc_server_msg_sent_total') && l.includes(`grpc_method="${method}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Splits the DATA received on `id` into gRPC messages. */
function messages(c: RawH2, id: number): Buffer[] {
  const body = Buffer.concat(
    c.frames.filter((f) => f.type === FrameType.DATA && f.id === id).map((f) => f.payload),
  );
  const out: Buffer[] = [];
  for (let off = 0; off + 5 <= body.length; ) {
    const len = body.readUInt32BE(off + 1);
    if (off + 5 + len > body.length) break;
    out.push(body.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return out;
}

async function sync(c: RawH2, tag: string): Promise<void> {
  c.send(encodeFrame(FrameType.PING, 0, 0, Buffer.from(tag)));
  await c.waitFor(
    (f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.toString() === tag,
  );
}

/** Opens the client's windows wide: everything held back can flow. */
const openWindows = () =>
  Buffer.concat([
    encodeFrame(FrameType.SETTINGS, 0, 0, settingsPayload([[4, 0x7fffffff]])),
    encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65535)),
  ]);

describe('back-pressure reaches the streaming handlers', () => {
  let srv: StartedServer;
  let clients: ReturnType<typeof connect>;
  let port: number;
  beforeAll(async () => {
    srv = await startServer();
    clients = connect(srv.address);
    port = Number(srv.address.split(':').pop());
  });
  afterAll(async () => {
    clients.close();
    await srv.close();
  });

  it('LeaseKeepAlive answers no faster than the client reads, and answers every request once it does', async () => {
    const lease = await call(clients.lease, 'leaseGrant', { TTL: 60 });
    const c = await RawH2.open(port, { settings: [[4, 0]] });
    try {
      const requests = 2200;
      const request = Buffer.concat([Buffer.from([0x08]), varint(lease.ID)]);
      const frames: Buffer[] = [headersFrame(1, grpcRequestBlock('/etcdserverpb.Lease/LeaseKeepAlive'))];
      for (let i = 0; i < requests; i++) frames.push(grpcDataFrame(1, request, false));
      c.send(Buffer.concat(frames));
      await sync(c, 'lka-sent');
      // The handler stops at its stream's high-water mark (64 KiB of ~40-byte answers: ~1,640), not at 2,200.
      let held = 0;
      for (let i = 0; i < 20; i++) {
        held = await sentCount(srv.endpoint, 'LeaseKeepAlive');
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan(requests - 400);
      c.send(openWindows());
      await c.waitFor(() => messages(c, 1).length >= requests, 20_000);
      expect(messages(c, 1).length).toBe(requests);
      expect(await sentCount(srv.endpoint, 'LeaseKeepAlive')).toBe(requests);
    } finally {
      c.close();
    }
  });

  it('Watch holds events back for a client that does not read, then delivers them all in order', async () => {
    const c = await RawH2.open(port, { settings: [[4, 0]] });
    try {
      // WatchCreateRequest { key: "bp/", range_end: "bp0" } inside WatchRequest.create_request (1).
      const create = Buffer.concat([Buffer.from([0x0a, 3]), b('bp/'), Buffer.from([0x12, 3]), b('bp0')]);
      const watchRequest = Buffer.concat([Buffer.from([0x0a, create.length]), create]);
      c.send(
        headersFrame(1, grpcRequestBlock('/etcdserverpb.Watch/Watch')),
        grpcDataFrame(1, watchRequest, false),
      );
      await sync(c, 'watch-up');
      const puts = 300;
      const value = Buffer.alloc(1024, 118);
      for (let i = 0; i < puts; i++) {
        await call(clients.kv, 'put', { key: b(`bp/${String(i).padStart(4, '0')}`), value });
      }
      const held = await sentCount(srv.endpoint, 'Watch');
      expect(held).toBeLessThan(puts / 2);
      c.send(openWindows());
      // Each event carries its key; count them across the watch responses as they arrive.
      const keysSeen = () => {
        const all = Buffer.concat(messages(c, 1));
        const keys: string[] = [];
        for (let at = all.indexOf('bp/'); at >= 0; at = all.indexOf('bp/', at + 7)) {
          keys.push(all.toString('latin1', at, at + 7));
        }
        return keys;
      };
      await c.waitFor(() => keysSeen().length >= puts, 20_000);
      const keys = keysSeen();
      expect(keys.length).toBe(puts);
      expect(keys).toEqual([...keys].sort());
    } finally {
      c.close();
    }
  });
});
