import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';

const b64 = (t: string) => Buffer.from(t).toString('base64');

describe('HTTP on the client port', () => {
  let srv: StartedServer;
  let metricsUrl: string;
  beforeAll(async () => {
    srv = await startServer({ args: ['--listen-metrics-urls', 'http://127.0.0.1:0'] });
    metricsUrl = srv.server.metricsUrls[0]!;
  });
  afterAll(async () => {
    await srv.close();
  });
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${srv.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };

  it("serves the JSON gateway with etcd's mapping (base64 bytes, int64 strings)", async () => {
    const put = await post('/v3/kv/put', { key: b64('foo'), value: b64('bar') });
    expect(put.status).toBe(200);
    expect((put.json.header as Record<string, string>).revision).toBe('2');
    const range = await post('/v3/kv/range', { key: b64('foo') });
    expect(range.json.kvs).toEqual([
      { key: 'Zm9v', create_revision: '2', mod_revision: '2', version: '1', value: 'YmFy' },
    ]);
    expect(range.json.count).toBe('1');
    const txn = await post('/v3/kv/txn', {
      compare: [{ target: 'CREATE', key: b64('foo'), createRevision: '0' }],
      success: [{ requestPut: { key: b64('foo'), value: b64('x') } }],
    });
    expect(txn.json.succeeded).toBeUndefined(); // false is omitted, like grpc-gateway
    const lease = await post('/v3/lease/grant', { TTL: 30 });
    expect(lease.json.TTL).toBe('30');
    const members = await post('/v3/cluster/member/list', {});
    expect((members.json.members as unknown[]).length).toBe(1);
    const status = await post('/v3/maintenance/status', {});
    expect(status.json.version).toBe('3.4.23');
  });

  it('maps errors to HTTP statuses with the etcd message', async () => {
    const r = await post('/v3/kv/put', { key: '', value: b64('v') });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('etcdserver: key is not provided');
    expect(r.json.code).toBe(3);
    const missing = await fetch(`${srv.endpoint}/v3/nope`, { method: 'POST' });
    expect(missing.status).toBe(404);
  });

  it('streams watch responses as newline-delimited {"result": ...}', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${srv.endpoint}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64('wk') } }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    const lines: Array<{ result: Record<string, unknown> }> = [];
    let buf = '';
    const next = async () => {
      while (!buf.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += Buffer.from(value).toString();
      }
      const i = buf.indexOf('\n');
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    };
    await next();
    expect(lines[0]!.result.created).toBe(true);
    await post('/v3/kv/put', { key: b64('wk'), value: b64('1') });
    await next();
    const ev = (lines[1]!.result.events as Array<{ kv: { key: string; value: string } }>)[0]!;
    expect(ev.kv.key).toBe(b64('wk'));
    expect(ev.kv.value).toBe(b64('1'));
    ctrl.abort();
  });

  it('reads ids above 2^53 written as bare JSON numbers exactly and answers them as strings', async () => {
    const raw = async (path: string, body: string) =>
      (await fetch(`${srv.endpoint}${path}`, { method: 'POST', body })).text();
    expect(await raw('/v3/lease/grant', '{"TTL": 60, "ID": 3182763892645462267}')).toContain(
      '"ID":"3182763892645462267"',
    );
    expect(await raw('/v3/kv/put', `{"key": "${b64('gl')}", "lease": 3182763892645462267}`)).toContain(
      'header',
    );
    expect(await raw('/v3/kv/range', `{"key": "${b64('gl')}"}`)).toContain('"lease":"3182763892645462267"');
    expect(await raw('/v3/lease/timetolive', '{"ID": "3182763892645462267", "keys": true}')).toContain(
      `"ID":"3182763892645462267"`,
    );
    expect(await raw('/v3/lease/revoke', '{"ID": 3182763892645462267}')).toContain('header');
    expect(await raw('/v3/kv/range', `{"key": "${b64('gl')}"}`)).not.toContain('kvs');
    // A watch id chosen by the client comes back exact in the stream's created response.
    const ctrl = new AbortController();
    const res = await fetch(`${srv.endpoint}/v3/watch`, {
      method: 'POST',
      body: `{"create_request": {"key": "${b64('gw')}", "watch_id": 1152921504606846977}}`,
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n')) text += Buffer.from((await reader.read()).value!).toString();
    expect(text).toContain('"watch_id":"1152921504606846977","created":true');
    ctrl.abort();
  });

  it('serves /health, /version and etcd-named /metrics (also on --listen-metrics-urls)', async () => {
    expect(await (await fetch(`${srv.endpoint}/health`)).json()).toEqual({ health: 'true' });
    expect(await (await fetch(`${srv.endpoint}/version`)).json()).toEqual({
      etcdserver: '3.4.23',
      etcdcluster: '3.4.0',
    });
    for (const base of [srv.endpoint, metricsUrl]) {
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const name of [
        'etcd_server_has_leader 1',
        'etcd_server_leader_changes_seen_total',
        'etcd_server_proposals_committed_total',
        'etcd_server_proposals_applied_total',
        'etcd_server_proposals_pending',
        'etcd_server_proposals_failed_total',
        'etcd_mvcc_db_total_size_in_bytes',
        'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"}',
        'etcd_disk_backend_commit_duration_seconds_bucket',
        'etcd_debugging_mvcc_keys_total',
        'etcd_network_client_grpc_received_bytes_total',
        'grpc_server_handled_total',
        'grpc_server_started_total',
      ]) {
        expect(text, name).toContain(name);
      }
    }
    expect(await (await fetch(`${metricsUrl}/health`)).json()).toEqual({ health: 'true' });
    expect((await fetch(`${metricsUrl}/v3/kv/range`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
