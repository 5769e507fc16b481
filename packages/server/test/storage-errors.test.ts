/**
 * A backend read that fails is answered as an error, never as a missing key: Range and a read-only Txn
 * get gRPC INTERNAL with the engine's error, the server logs it, and a prev_kv watcher whose read fails
 * is canceled with the reason. The engine is a real LevelDB, reopened so nothing is cached, whose read
 * views are made to fail with EIO (a test double at the storage boundary only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { WatchResponse } from '@kv/client/api';
import type { Backend } from '@kv/mvcc';
import { afterAll, describe, expect, it } from 'vitest';
import { KvServer, Logger, parseArgs, startServer } from '../src/index.js';
import { b, call, collectWatch, connect, s } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'kv-storage-errors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Makes the backend's read views fail with EIO while `failing` is set. */
function failReads(backend: Backend): { fail(on: boolean): void } {
  const realView = backend.view.bind(backend);
  let failing = false;
  const eio = () => Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  backend.view = () => {
    const v = realView();
    if (!failing) return v;
    return {
      ...v,
      getMany: async () => {
        throw eio();
      },
    };
  };
  return { fail: (on) => (failing = on) };
}

describe('storage read errors', () => {
  it('Range and Txn answer INTERNAL (logged), a prev_kv watcher is canceled with the reason', async () => {
    const dataDir = join(root, 'level');
    const first = await startServer({ backend: 'level', dataDir });
    const c0 = connect(first.address);
    for (let i = 0; i < 5; i++) await call(c0.kv, 'put', { key: b(`k${i}`), value: b(`v${i}`) });
    c0.close();
    await first.close();

    const lines: string[] = [];
    const parsed = parseArgs([
      '--data-dir',
      dataDir,
      '--backend',
      'level',
      '--listen-client-urls',
      'http://127.0.0.1:0',
      '--advertise-client-urls',
      'http://127.0.0.1:0',
      '--listen-peer-urls',
      'http://127.0.0.1:0',
    ]);
    if (parsed.action !== 'run') throw new Error('unexpected parse outcome');
    const server = await KvServer.start(parsed.config, {
      logger: new Logger('info', { write: (l: string) => lines.push(l) }),
    });
    const address = server.clientUrls[0]!.replace('http://', '');
    const c = connect(address);
    const { fail } = failReads(server.etcd.store.backend);
    try {
      await call(c.kv, 'range', { key: b('k0') }); // leader known, server ready
      const stream = c.watch.watch() as grpc.ClientDuplexStream<unknown, WatchResponse>;
      const watched = collectWatch(stream, (all) => all.some((r) => r.canceled));
      stream.write({ createRequest: { key: b('k3'), prevKv: true } });
      await new Promise((r) => setTimeout(r, 100)); // the created response is out before the put

      fail(true);
      const err = (await call(c.kv, 'range', { key: b('k1') }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(13); // INTERNAL
      expect(err.details).toBe('etcdserver: mvcc: storage read failed: key revisions: EIO: i/o error, read');
      const txnErr = (await call(c.kv, 'txn', {
        success: [{ requestRange: { key: b('k2') } }],
      }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(txnErr.code).toBe(13);

      await call(c.kv, 'put', { key: b('k3'), value: b('new') });
      const responses = await watched;
      stream.cancel();
      const canceled = responses.find((r) => r.canceled)!;
      expect(canceled.cancelReason).toBe('mvcc: storage read failed: key revisions: EIO: i/o error, read');
      expect(responses.flatMap((r) => r.events)).toEqual([]);

      const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'error');
      expect(logged).toContainEqual(
        expect.objectContaining({
          msg: 'request failed',
          method: 'etcdserverpb.KV/range',
          error: 'etcdserver: mvcc: storage read failed: key revisions: EIO: i/o error, read',
        }),
      );
      expect(logged).toContainEqual(expect.objectContaining({ msg: 'watcher canceled' }));

      // The keys were there all along: once the engine reads again, they are served.
      fail(false);
      expect(s((await call(c.kv, 'range', { key: b('k1') })).kvs[0].value)).toBe('v1');
    } finally {
      fail(false);
      c.close();
      await server.close();
    }
  });
});
