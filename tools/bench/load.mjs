#!/usr/bin/env node
// Load generator for any etcd v3 endpoint (kv-server or etcd). Drives raw gRPC with kv's generated codecs
// so the client costs as little as possible, and reports throughput and HDR latency percentiles.
//
//   node tools/bench/load.mjs --endpoint http://127.0.0.1:2379 --op put --clients 100 --conns 10 --total 20000
//
// --op put | range | range-serializable | txn | watch | keepalive
// Prints one JSON line: {op, clients, conns, total, seconds, opsPerSec, p50Ms, p90Ms, p99Ms, p999Ms, maxMs, errors}
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { KVService, LeaseService, WatchService } from '@kv/client/api';
import hdr from 'hdr-histogram-js';

const { values: o } = parseArgs({
  options: {
    endpoint: { type: 'string', default: 'http://127.0.0.1:2379' },
    op: { type: 'string', default: 'put' },
    clients: { type: 'string', default: '100' },
    conns: { type: 'string', default: '10' },
    total: { type: 'string', default: '20000' },
    'key-size': { type: 'string', default: '8' },
    'val-size': { type: 'string', default: '256' },
    'key-space': { type: 'string', default: '10000' },
    'max-seconds': { type: 'string', default: '60' },
  },
});
const clients = Number(o.clients);
const conns = Number(o.conns);
const total = Number(o.total);
const keySize = Number(o['key-size']);
const valSize = Number(o['val-size']);
const keySpace = Number(o['key-space']);
const maxSeconds = Number(o['max-seconds']);
const target = o.endpoint.replace(/^https?:\/\//, '');

const KV = grpc.makeGenericClientConstructor(KVService, 'KV');
const Lease = grpc.makeGenericClientConstructor(LeaseService, 'Lease');
const Watch = grpc.makeGenericClientConstructor(WatchService, 'Watch');
// A local subchannel pool per client object gives each "connection" its own TCP connection.
const channelOpts = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 };
const make = (Ctor) =>
  Array.from({ length: conns }, () => new Ctor(target, grpc.credentials.createInsecure(), channelOpts));

const value = Buffer.alloc(valSize, 'v');
/** Key number i as a fixed-width key of keySize bytes. */
const keyOf = (i) => Buffer.from(String(i % keySpace).padStart(keySize, '0'));
const unary = (client, method, req) =>
  new Promise((ok, fail) => client[method](req, (err, res) => (err ? fail(err) : ok(res))));

const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
let errors = 0;
let lastError = '';

/** Runs `clients` concurrent loops that each await `one(i, conn)` until `total` operations are issued. */
async function closedLoop(one) {
  let issued = 0;
  const deadline = Date.now() + maxSeconds * 1000;
  const loop = async (c) => {
    while (issued < total && Date.now() < deadline) {
      const i = issued++;
      const t0 = process.hrtime.bigint();
      try {
        await one(i, c % conns);
        histogram.recordValue(Number((process.hrtime.bigint() - t0) / 1000n));
      } catch (e) {
        errors++;
        lastError = e.message;
      }
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function runUnary() {
  const kvs = make(KV);
  if (o.op.startsWith('range')) {
    // Preload the key space so ranges return data.
    const pre = Math.min(keySpace, total);
    let n = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (n < pre) await unary(kvs[n % conns], 'put', { key: keyOf(n++), value });
      }),
    );
  }
  const serializable = o.op === 'range-serializable';
  const ops = {
    put: (i, c) => unary(kvs[c], 'put', { key: keyOf(i), value }),
    range: (i, c) => unary(kvs[c], 'range', { key: keyOf(i), serializable }),
    'range-serializable': (i, c) => unary(kvs[c], 'range', { key: keyOf(i), serializable }),
    txn: (i, c) => {
      const key = keyOf(i);
      return unary(kvs[c], 'txn', {
        compare: [{ key, target: 2 /* MOD */, result: 2 /* LESS */, modRevision: 1 << 30 }],
        success: [{ requestPut: { key, value } }],
        failure: [{ requestRange: { key } }],
      });
    },
  };
  const one = ops[o.op];
  if (!one) throw new Error(`unknown --op ${o.op}`);
  const seconds = await closedLoop(one);
  for (const k of kvs) k.close();
  return seconds;
}

/** Lease keep-alive throughput: each client owns a lease and keeps it alive over a shared stream per conn. */
async function runKeepAlive() {
  const leases = make(Lease);
  const ids = [];
  for (let c = 0; c < clients; c++) ids.push((await unary(leases[c % conns], 'leaseGrant', { TTL: 60 })).ID);
  const streams = leases.map((l) => {
    const s = l.leaseKeepAlive();
    const waiting = new Map();
    s.on('data', (r) => {
      const q = waiting.get(r.ID);
      q?.shift()?.();
    });
    s.on('error', () => {});
    return { s, waiting };
  });
  const seconds = await closedLoop((i, c) => {
    const id = ids[i % clients];
    const { s, waiting } = streams[c];
    return new Promise((ok) => {
      if (!waiting.has(id)) waiting.set(id, []);
      waiting.get(id).push(ok);
      s.write({ ID: id });
    });
  });
  for (const { s } of streams) s.end();
  for (const l of leases) l.close();
  return seconds;
}

/** Watch delivery latency: `clients` watchers (spread over conns) on one key; a writer puts `total` times. */
async function runWatch() {
  const watches = make(Watch);
  const kv = new KV(target, grpc.credentials.createInsecure(), channelOpts);
  const key = Buffer.from('bench-watch-key');
  const sentAt = new Map();
  let received = 0;
  const expected = total * clients;
  let done;
  const allDone = new Promise((ok) => (done = ok));
  const streams = [];
  let created = 0;
  await new Promise((ok) => {
    for (let c = 0; c < clients; c++) {
      const s = watches[c % conns].watch();
      s.on('data', (r) => {
        if (r.created) {
          if (++created === clients) ok();
          return;
        }
        const now = process.hrtime.bigint();
        for (const ev of r.events) {
          const t0 = sentAt.get(Buffer.from(ev.kv.value).toString());
          if (t0 !== undefined) histogram.recordValue(Number((now - t0) / 1000n));
          if (++received === expected) done();
        }
      });
      s.on('error', () => {});
      s.write({ createRequest: { key } });
      streams.push(s);
    }
  });
  const start = process.hrtime.bigint();
  const deadline = Date.now() + maxSeconds * 1000;
  for (let i = 0; i < total && Date.now() < deadline; i++) {
    const v = String(i).padStart(valSize, '0');
    sentAt.set(v, process.hrtime.bigint());
    await unary(kv, 'put', { key, value: Buffer.from(v) });
  }
  await Promise.race([allDone, new Promise((ok) => setTimeout(ok, 10_000))]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const s of streams) s.cancel();
  for (const w of watches) w.close();
  kv.close();
  return seconds;
}

const seconds =
  o.op === 'keepalive' ? await runKeepAlive() : o.op === 'watch' ? await runWatch() : await runUnary();
const count = histogram.totalCount;
const ms = (p) => Math.round(histogram.getValueAtPercentile(p) / 10) / 100;
console.log(
  JSON.stringify({
    op: o.op,
    clients,
    conns,
    total: count,
    seconds: Math.round(seconds * 1000) / 1000,
    opsPerSec: Math.round(count / seconds),
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    p999Ms: ms(99.9),
    maxMs: Math.round(histogram.maxValue / 10) / 100,
    errors,
    ...(errors ? { lastError } : {}),
  }),
);
process.exit(0);
