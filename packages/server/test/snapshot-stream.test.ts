/**
 * Maintenance.Snapshot over a real gRPC connection from a real server holding a few MiB: the database
 * goes out in 32 KiB messages (etcd's chunk size) whose remainingBytes count down to 0, the bytes end
 * with their SHA-256, and a client that pauses mid-stream gets the rest once it reads again while the
 * server keeps answering other calls. (The HTTP/2 layer's flow control under a reader that stops is
 * tested in h2-backpressure.test.ts.) Concurrent snapshots, on one connection and on two, get
 * identical valid bytes (each stream reuses one frame buffer; writes share a buffer pool). Run on the
 * memory engine and on the level engine, whose snapshots read LevelDB's table files through
 * Backend.bulkView(); there a put while a stream is paused is not held up by it. The 1 GiB memory test
 * is e2e/test/snapshot-rss.test.ts (numbers in docs/operations.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { MaintenanceService } from '@kv/client/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect, sleep } from './helpers.js';

const CHUNK = 32 * 1024;
interface SnapshotMessage {
  blob: Uint8Array;
  remainingBytes: number | string;
}

describe.each(['memory', 'level'] as const)('Maintenance.Snapshot stream (%s engine)', (engine) => {
  let srv: StartedServer;
  let clients: ReturnType<typeof connect>;

  beforeAll(async () => {
    srv = await startServer({ backend: engine });
    clients = connect(srv.address);
    // ~6 MB of incompressible values.
    for (let i = 0; i < 1500; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          call(clients.kv, 'put', { key: b(`snap/${i + j}`), value: randomBytes(4000) }),
        ),
      );
    }
  }, 60_000);
  afterAll(async () => {
    clients?.close();
    await srv?.close();
  });

  it('sends the database in 32 KiB messages counting down to 0, ending with its SHA-256', async () => {
    const messages: SnapshotMessage[] = await new Promise((resolve, reject) => {
      const got: SnapshotMessage[] = [];
      const stream = clients.maintenance.snapshot({});
      stream.on('data', (m: SnapshotMessage) => got.push(m));
      stream.on('end', () => resolve(got));
      stream.on('error', reject);
    });
    const all = Buffer.concat(messages.map((m) => Buffer.from(m.blob)));
    expect(all.length).toBeGreaterThan(5 * 1024 * 1024);
    expect(messages.length).toBe(Math.ceil(all.length / CHUNK));
    expect(messages.slice(0, -1).every((m) => m.blob.length === CHUNK)).toBe(true);
    let sent = 0;
    for (const m of messages) {
      sent += m.blob.length;
      expect(Number(m.remainingBytes)).toBe(all.length - sent);
    }
    const body = all.subarray(0, all.length - 32);
    expect(
      createHash('sha256')
        .update(body)
        .digest()
        .equals(all.subarray(all.length - 32)),
    ).toBe(true);
  });

  it('concurrent snapshots on one connection and on another are identical and valid (reused frames, pooled writes)', async () => {
    // Each stream reuses one frame buffer and every connection writes through the shared output pool:
    // interleaved streams must still get their own, unchanged bytes.
    const other = new (grpc.makeGenericClientConstructor(MaintenanceService as never, 'Maintenance'))(
      srv.address,
      grpc.credentials.createInsecure(),
      { 'grpc.use_local_subchannel_pool': 1 },
    ) as unknown as typeof clients.maintenance;
    const take = (client: typeof clients.maintenance): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        const parts: Buffer[] = [];
        const stream = client.snapshot({});
        stream.on('data', (m: SnapshotMessage) => parts.push(Buffer.from(m.blob)));
        stream.on('end', () => resolve(Buffer.concat(parts)));
        stream.on('error', reject);
      });
    try {
      const [a, b, c] = await Promise.all([
        take(clients.maintenance),
        take(clients.maintenance),
        take(other),
      ]);
      expect(a.length).toBeGreaterThan(5 * 1024 * 1024);
      expect(b.equals(a)).toBe(true);
      expect(c.equals(a)).toBe(true);
      const body = a.subarray(0, a.length - 32);
      expect(
        createHash('sha256')
          .update(body)
          .digest()
          .equals(a.subarray(a.length - 32)),
      ).toBe(true);
    } finally {
      other.close();
    }
  });

  it('a client that pauses mid-stream gets the rest when it reads again; the server answers meanwhile', async () => {
    const stream = clients.maintenance.snapshot({});
    let received = 0;
    let total = 0;
    const failed: Error[] = [];
    stream.on('error', (e: Error) => failed.push(e));
    stream.on('data', (m: SnapshotMessage) => {
      received++;
      total = received * CHUNK + Number(m.remainingBytes);
      // Stop reading after the first message: grpc-js then stops granting HTTP/2 window.
      stream.pause();
    });
    await sleep(1500);
    expect(received).toBe(1);
    // The server is still serving requests while the snapshot stream waits.
    const st = await call(clients.maintenance, 'status', {});
    expect(Number(st.dbSize)).toBeGreaterThan(0);
    // Writes go on too: the level engine holds them only while a bulk view opens.
    const put = await call(clients.kv, 'put', { key: b('during-snapshot'), value: b('v') });
    expect(Number(put.header.revision)).toBeGreaterThan(1500);
    expect(total).toBeGreaterThan(5 * 1024 * 1024);
    // Resume: everything arrives, and the stream ends normally.
    const rest: number = await new Promise((resolve, reject) => {
      let n = 0;
      stream.removeAllListeners('data');
      stream.on('data', () => n++);
      stream.on('end', () => resolve(n));
      stream.on('error', reject);
      stream.resume();
    });
    expect(received + rest).toBe(Math.ceil(total / CHUNK));
    expect(failed).toEqual([]);
  });
});
