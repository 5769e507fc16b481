#!/usr/bin/env node
import http2 from 'node:http2';
// Transport ceiling: answers KV Range/Put with canned responses (no storage behind them) from grpc-js's
// server (grpcjs), a bare node:http2 server with hand-written gRPC framing (raw), or kv-server's own
// gRPC server on its JavaScript HTTP/2 layer (kv, packages/server/dist/transport/grpc), so
// tools/bench/load.mjs measures what each gRPC layer alone costs. tools/bench/transport-measure.mjs
// runs all three alternately and reports CPU per call and GC behaviour.
//
//   node tools/bench/transport-ceiling.mjs grpcjs|raw|kv PORT &
//   node tools/bench/load.mjs --endpoint 127.0.0.1:PORT --op range-serializable --total 20000
//   ps -o cputime= -p <pid of the first command>
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(join(root, 'packages', 'server', 'package.json'));
const grpc = require('@grpc/grpc-js');
const api = await import(join(root, 'packages', 'client', 'dist', 'api', 'index.js'));

const [mode, portText] = process.argv.slice(2);
const port = Number(portText);
if (!['grpcjs', 'raw', 'kv'].includes(mode) || !port) {
  console.error('usage: transport-ceiling.mjs grpcjs|raw|kv PORT');
  process.exit(2);
}
const header = { revision: 5, clusterId: 1n, memberId: 2n, raftTerm: 3 };
const range = {
  header,
  count: 1,
  kvs: [{ key: Buffer.from('k'), value: Buffer.alloc(256), createRevision: 2, modRevision: 2, version: 1 }],
};

if (mode === 'grpcjs') {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(api.KVService, {
    range: (_call, cb) => cb(null, range),
    put: (_call, cb) => cb(null, { header }),
  });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), () => {});
} else if (mode === 'kv') {
  const { GrpcServer } = await import(
    join(root, 'packages', 'server', 'dist', 'transport', 'grpc', 'server.js')
  );
  const server = new GrpcServer({ maxReceiveMessageLength: 4 << 20 });
  // KV_TC_ANSWER: answer Range in the read callback (sync, the default) or later, as real handlers do
  // (tools/bench/gc-survival.sh compares what survives the young-generation collections).
  const how = process.env.KV_TC_ANSWER ?? 'sync';
  const answer =
    how === 'micro'
      ? (cb) => Promise.resolve().then(() => cb(null, range))
      : how === 'async'
        ? (cb) =>
            (async () => {
              await null;
              return range;
            })().then((r) => cb(null, r))
        : how === 'immediate'
          ? (cb) => setImmediate(() => cb(null, range))
          : (cb) => cb(null, range);
  server.addService(api.KVService, {
    range: (_call, cb) => answer(cb),
    put: (_call, cb) => cb(null, { header }),
  });
  await server.listen(port, '127.0.0.1');
} else {
  const frame = (body) => {
    const f = Buffer.allocUnsafe(5 + body.length);
    f[0] = 0;
    f.writeUInt32BE(body.length, 1);
    body.copy(f, 5);
    return f;
  };
  const rangeFrame = frame(api.KVService.range.responseSerialize(range));
  const putFrame = frame(api.KVService.put.responseSerialize({ header }));
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks = [];
    stream.on('data', (d) => chunks.push(d));
    stream.on('end', () => {
      // Decode the request like a real server would.
      api.KVService.range.requestDeserialize(Buffer.concat(chunks).subarray(5));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(headers[':path'].endsWith('/Range') ? rangeFrame : putFrame);
    });
  });
  server.listen(port, '127.0.0.1');
}
