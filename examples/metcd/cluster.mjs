#!/usr/bin/env node
// Starts a local 3-member metcd cluster in one command (like raftexample's Procfile):
//   node examples/metcd/cluster.mjs [--engine memory|leveldb|lmdb] [--data-dir DIR]
// Clients: http://127.0.0.1:12380, :22380, :32380; peers on :12379, :22379, :32379. Ctrl-C stops all
// three. Build first: node_modules/.bin/turbo run build --filter=@kv/example-metcd...
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = import.meta.dirname;
const main = join(here, 'dist', 'main.js');
if (!existsSync(main)) {
  console.error(
    `metcd is not built (${main} missing): run node_modules/.bin/turbo run build --filter=@kv/example-metcd...`,
  );
  process.exit(1);
}
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const engine = flag('engine', 'memory');
const dataDir = resolve(flag('data-dir', 'metcd-data'));
const cluster = ['http://127.0.0.1:12379', 'http://127.0.0.1:22379', 'http://127.0.0.1:32379'].join(',');

const children = [1, 2, 3].map((id) => {
  const child = spawn(
    process.execPath,
    [
      main,
      '--id',
      String(id),
      '--cluster',
      cluster,
      '--port',
      `${id}2380`,
      '--engine',
      engine,
      '--data-dir',
      join(dataDir, `member-${id}`),
    ],
    { stdio: ['ignore', 'inherit', 'pipe'] },
  );
  // Prefix each member's log lines, as a Procfile runner would.
  child.stderr.setEncoding('utf8');
  let partial = '';
  child.stderr.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) process.stdout.write(`metcd${id} | ${line}\n`);
  });
  child.on('exit', (code, signal) => console.log(`metcd${id} exited (${signal ?? code})`));
  return child;
});
console.log(`metcd: 3 members, engine ${engine}, data in ${dataDir}`);
console.log(
  'try: curl -L http://127.0.0.1:12380/hello -XPUT -d world && curl -L http://127.0.0.1:22380/hello',
);
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
