/**
 * Maintenance.Status answers from the sizes the engine already knows and never forces the store's
 * pending batch out (monitoring polls it): with a one-hour batch interval, writes stay buffered across
 * Status calls, and dbSize grows only once the batch commits. `etcdctl endpoint status` still reads it.
 */
import { execFile } from 'node:child_process';
import { revToBytes } from '@kv/mvcc';
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/index.js';
import { b, call, connect } from './helpers.js';

const etcdctl = (...args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile('etcdctl', args, { env: { ...process.env, ETCDCTL_API: '3' } }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );

describe('Maintenance.Status', () => {
  it('reports committed sizes without flushing buffered writes (memory engine)', async () => {
    const srv = await startServer({
      backend: 'memory',
      args: ['--backend-batch-interval', '1h', '--backend-batch-limit', '100000'],
    });
    const c = connect(srv.address);
    const store = srv.server.etcd.store;
    try {
      await store.flush(); // start from an empty batch
      const before = await call(c.maintenance, 'status', {});
      let rev = 0;
      for (let i = 0; i < 20; i++) {
        rev = Number(
          (await call(c.kv, 'put', { key: b(`k${i}`), value: b('x'.repeat(100)) })).header.revision,
        );
      }
      for (let i = 0; i < 3; i++) {
        const st = await call(c.maintenance, 'status', {});
        expect(Number(st.dbSize)).toBe(Number(before.dbSize));
        expect(Number(st.raftAppliedIndex)).toBeGreaterThan(Number(before.raftAppliedIndex));
      }
      // The writes are still in the store's batch, not in the engine.
      expect(await store.backend.get('key', revToBytes(rev, 0))).toBeUndefined();
      await store.flush();
      expect(await store.backend.get('key', revToBytes(rev, 0))).toBeDefined();
      const after = await call(c.maintenance, 'status', {});
      expect(Number(after.dbSize)).toBeGreaterThan(Number(before.dbSize) + 20 * 100);
      expect(Number(after.dbSizeInUse)).toBe(Number(after.dbSize));
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('etcdctl endpoint status reads it (level engine)', async () => {
    const srv = await startServer({ backend: 'level' });
    try {
      await etcdctl('--endpoints', srv.endpoint, 'put', 'foo', 'bar');
      const [st] = JSON.parse(await etcdctl('--endpoints', srv.endpoint, 'endpoint', 'status', '-w', 'json'));
      expect(st.Endpoint).toBe(srv.endpoint);
      expect(st.Status.version).toBe('3.4.23');
      expect(st.Status.dbSize).toBeGreaterThan(0);
      expect(st.Status.dbSizeInUse).toBeGreaterThan(0);
      expect(st.Status.leader).toBe(st.Status.header.member_id);
      const table = await etcdctl('--endpoints', srv.endpoint, 'endpoint', 'status', '-w', 'table');
      expect(table).toMatch(/\|\s+3\.4\.23\s+\|/);
    } finally {
      await srv.close();
    }
  });
});
