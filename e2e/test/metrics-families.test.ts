// /metrics against etcd 3.4.23's metric families. The fixture is a scrape of Debian's etcd 3.4.23 (a
// 2-member cluster after one put; fixtures/etcd-3.4.23-metrics.txt, parsed into .json by
// support/prom-text.ts's rules): every family there is either served by kv-server with etcd's type,
// help text, label names and buckets, or listed below as deliberately absent, with the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { type Family, parsePromText } from './support/prom-text.js';
import { etcdctl, run, TARGET } from './support/server.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'etcd-3.4.23-metrics.txt');
const etcdFamilies = parsePromText(readFileSync(FIXTURE, 'utf8'));

/** etcd 3.4 families kv-server does not export, and why. */
export const ABSENT: Record<string, string> = {
  etcd_server_go_version: 'no Go runtime: kv runs on Node.js (see nodejs_version_info)',
  etcd_debugging_disk_backend_commit_rebalance_duration_seconds:
    "bbolt's commit phases; kv's engines have none",
  etcd_debugging_disk_backend_commit_spill_duration_seconds: "bbolt's commit phases; kv's engines have none",
  etcd_debugging_disk_backend_commit_write_duration_seconds: "bbolt's commit phases; kv's engines have none",
  etcd_mvcc_db_open_read_transactions: "bbolt read transactions; kv's engines hold none open",
  etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds:
    'kv compacts without the batch pauses etcd measures (not instrumented)',
  etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds: 'not instrumented in kv',
  etcd_debugging_mvcc_db_compaction_keys_total: 'not instrumented: @kv/mvcc does not report removed keys',
  etcd_debugging_mvcc_pending_events_total: "etcd's unsynced-watcher queue; kv's watch hub has no such queue",
  etcd_debugging_mvcc_slow_watcher_total: "etcd's unsynced-watcher group; kv's watch hub has no such group",
  etcd_debugging_snap_save_marshalling_duration_seconds: 'not instrumented in kv',
  etcd_snap_db_fsync_duration_seconds: 'not instrumented in kv',
  etcd_snap_db_save_total_duration_seconds: 'not instrumented in kv',
  etcd_snap_fsync_duration_seconds: 'not instrumented in kv',
  etcd_disk_wal_write_bytes_total: 'not instrumented: @kv/wal does not report written bytes',
  etcd_debugging_store_expires_total: 'the v2 store: kv has no v2 API',
  etcd_debugging_store_reads_total: 'the v2 store: kv has no v2 API',
  etcd_debugging_store_watch_requests_total: 'the v2 store: kv has no v2 API',
  etcd_debugging_store_watchers: 'the v2 store: kv has no v2 API',
  etcd_debugging_store_writes_total: 'the v2 store: kv has no v2 API',
  etcd_grpc_proxy_cache_hits_total: 'grpc-proxy: kv has no grpc-proxy mode',
  etcd_grpc_proxy_cache_keys_total: 'grpc-proxy: kv has no grpc-proxy mode',
  etcd_grpc_proxy_cache_misses_total: 'grpc-proxy: kv has no grpc-proxy mode',
  etcd_grpc_proxy_events_coalescing_total: 'grpc-proxy: kv has no grpc-proxy mode',
  etcd_grpc_proxy_watchers_coalescing_total: 'grpc-proxy: kv has no grpc-proxy mode',
};
/** The Go runtime's families (go_*): kv exports Node's (nodejs_*) instead. */
const isGoRuntime = (name: string) => name.startsWith('go_');

/**
 * etcd families kv exports that the fixture lacks: etcd registers them too, but its scrape shows a
 * labelled family only once it has a series (a snapshot sent, a peer disconnected, a round-trip probe).
 */
const ETCD_ONLY_AFTER_EVENTS = new Set([
  'etcd_network_disconnected_peers_total',
  'etcd_network_peer_sent_failures_total',
  'etcd_network_peer_received_failures_total',
  'etcd_network_snapshot_send_success',
  'etcd_network_snapshot_send_inflights_total',
  'etcd_network_snapshot_send_failures',
  'etcd_network_snapshot_send_total_duration_seconds',
  'etcd_network_snapshot_receive_success',
  'etcd_network_snapshot_receive_inflights_total',
  'etcd_network_snapshot_receive_failures',
  'etcd_network_snapshot_receive_total_duration_seconds',
  'etcd_network_peer_round_trip_time_seconds',
]);

let cluster: Cluster;
let kvFamilies: Map<string, Family>;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 2 });
  const endpoint = cluster.member(0).endpoint;
  const put = await etcdctl(endpoint, ['put', 'a', 'b']);
  expect(put.code, put.stderr).toBe(0);
  await run('curl', ['-s', `${endpoint}/health`]);
  const scrape = await run('curl', ['-s', `${endpoint}/metrics`]);
  kvFamilies = parsePromText(scrape.stdout);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

describe('/metrics families against etcd 3.4.23', () => {
  it('the fixture is etcd 3.4.23 with every family it should hold', () => {
    expect(etcdFamilies.get('etcd_server_version')).toBeDefined();
    expect(readFileSync(FIXTURE, 'utf8')).toContain('etcd_server_version{server_version="3.4.23"} 1');
    // 126 families: 27 from the Go runtime, 99 from etcd itself and its process collector.
    expect(etcdFamilies.size).toBe(126);
    expect([...etcdFamilies.keys()].filter(isGoRuntime)).toHaveLength(27);
  });

  it('serves every etcd family that is not deliberately absent, with etcd name, type, help and labels', () => {
    const missing: string[] = [];
    for (const [name, etcd] of etcdFamilies) {
      if (isGoRuntime(name) || (TARGET === 'kv' && name in ABSENT)) continue;
      const kv = kvFamilies.get(name);
      if (!kv) {
        missing.push(name);
        continue;
      }
      expect({ name, type: kv.type, help: kv.help }).toEqual({ name, type: etcd.type, help: etcd.help });
      if (kv.type === 'histogram')
        expect({ name, buckets: kv.buckets }).toEqual({ name, buckets: etcd.buckets });
      // Label names are visible only once a series exists; compare where both have one.
      if (kv.labels.length > 0 && etcd.labels.length > 0) {
        expect({ name, labels: kv.labels }).toEqual({ name, labels: etcd.labels });
      }
    }
    expect(missing).toEqual([]);
  });

  it('lists as absent only families that etcd has and kv really lacks', () => {
    for (const name of Object.keys(ABSENT)) {
      expect(etcdFamilies.has(name), name).toBe(true);
      if (TARGET === 'kv') expect(kvFamilies.has(name), name).toBe(false);
    }
  });

  it('adds only etcd families shown after events, Node.js runtime and process families', () => {
    const extra = [...kvFamilies.keys()].filter((n) => !etcdFamilies.has(n));
    const unexplained = extra.filter(
      (n) => !ETCD_ONLY_AFTER_EVENTS.has(n) && !n.startsWith('nodejs_') && !n.startsWith('process_'),
    );
    expect(unexplained).toEqual([]);
    if (TARGET === 'kv') {
      for (const n of [
        'nodejs_eventloop_lag_seconds',
        'nodejs_gc_duration_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        expect(kvFamilies.has(n), n).toBe(true);
      }
    }
  });

  it('counts what happened: the put, the /health check, the scrapes and the client requests', () => {
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    return run('curl', ['-s', `${cluster.member(0).endpoint}/metrics`]).then(({ stdout }) => {
      expect(value(stdout, 'etcd_mvcc_put_total')).toBeGreaterThanOrEqual(1);
      expect(value(stdout, 'etcd_debugging_mvcc_put_total')).toBe(value(stdout, 'etcd_mvcc_put_total'));
      expect(value(stdout, 'etcd_server_health_success')).toBeGreaterThanOrEqual(1);
      expect(value(stdout, 'etcd_server_has_leader')).toBe(1);
      expect(value(stdout, 'etcd_debugging_mvcc_total_put_size_in_bytes')).toBeGreaterThanOrEqual(2);
      expect(value(stdout, 'promhttp_metric_handler_requests_total{code="200"}')).toBeGreaterThanOrEqual(1);
      // etcdctl 3.4 sends client-api-version 3.4 with every request.
      expect(
        value(stdout, 'etcd_server_client_requests_total{client_api_version="3.4",type="unary"}'),
      ).toBeGreaterThanOrEqual(1);
      expect(value(stdout, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(
        value(
          stdout,
          'etcd_network_active_peers{Local="' +
            cluster.member(0).hexId +
            '",Remote="' +
            cluster.member(1).hexId +
            '"}',
        ),
      ).toBe(1);
    });
  });
});
