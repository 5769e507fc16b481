// The JSON gateway and HTTP endpoints, driven by curl as operators do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, run, ServerProcess } from './support/server.js';

let server: ServerProcess;
const post = async (path: string, body: unknown) => {
  const r = await run('curl', ['-s', '-X', 'POST', `${server.endpoint}${path}`, '-d', JSON.stringify(body)]);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  server = await ServerProcess.start();
});
afterAll(async () => {
  await server?.destroy();
});

describe('JSON gateway', () => {
  it('puts and ranges with base64 bytes and string int64s', async () => {
    const put = await post('/v3/kv/put', { key: b64('gw'), value: b64('hello') });
    expect(typeof put.header.revision).toBe('string');
    const got = await post('/v3/kv/range', { key: b64('gw') });
    expect(got.count).toBe('1');
    expect(Buffer.from(got.kvs[0].value, 'base64').toString()).toBe('hello');
    expect(got.kvs[0].version).toBe('1');
    const none = await post('/v3/kv/range', { key: b64('absent') });
    expect(none.kvs).toBeUndefined();
  });

  it('runs a txn and grants a lease', async () => {
    const txn = await post('/v3/kv/txn', {
      compare: [{ target: 'CREATE', key: b64('gw-txn'), createRevision: '0' }],
      success: [{ requestPut: { key: b64('gw-txn'), value: b64('v') } }],
    });
    expect(txn.succeeded).toBe(true);
    const lease = await post('/v3/lease/grant', { TTL: 30 });
    expect(lease.TTL).toBe('30');
    expect(Number(lease.ID)).toBeGreaterThan(0);
  });

  it('streams watch events as JSON lines', async () => {
    const watch = run('curl', [
      '-s',
      '-N',
      '--max-time',
      '3',
      '-X',
      'POST',
      `${server.endpoint}/v3/watch`,
      '-d',
      JSON.stringify({ create_request: { key: b64('gw-watch') } }),
    ]);
    await new Promise((ok) => setTimeout(ok, 1000));
    await post('/v3/kv/put', { key: b64('gw-watch'), value: b64('1') });
    const out = (await watch).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = out.flatMap((m) => m.result?.events ?? []);
    expect(events).toHaveLength(1);
    expect(Buffer.from(events[0].kv.value, 'base64').toString()).toBe('1');
  });

  it('serves /health, /version and /metrics', async () => {
    const health = JSON.parse((await run('curl', ['-s', `${server.endpoint}/health`])).stdout);
    expect(health.health).toBe('true');
    const version = JSON.parse((await run('curl', ['-s', `${server.endpoint}/version`])).stdout);
    expect(version.etcdserver).toMatch(/^3\./);
    const metrics = (await run('curl', ['-s', `${server.endpoint}/metrics`])).stdout;
    expect(metrics).toMatch(/^etcd_server_has_leader 1$/m);
    expect(metrics).toContain('etcd_disk_wal_fsync_duration_seconds_bucket');
    expect(metrics).toContain('grpc_server_handled_total');
  });
});
