#!/usr/bin/env node
// Starts a local 3-member metcd cluster in one command (like raftexample's Procfile):
//   node examples/metcd/cluster.mjs [--engine memory|leveldb|lmdb] [--data-dir DIR]
//                                   [--client-ports 12380,22380,32380] [--peer-ports 12379,22379,32379]
// Member logs come out prefixed (metcdN | ...). Ctrl-C or SIGTERM stops all three.
// Build first: node_modules/.bin/turbo run build --filter=@kv/example-metcd...
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const main = join(import.meta.dirname, 'dist', 'main.js');
if (!existsSync(main)) {
  console.error(
    `metcd is not built (${main} missing): run node_modules/.bin/turbo run build --filter=@kv/example-metcd...`,
  );
  process.exit(1);
}

const args = process.argv.slice(2);
const known = ['--engine', '--data-dir', '--client-ports', '--peer-ports'];
for (let i = 0; i < args.length; i += 2) {
  if (!known.includes(args[i]) || args[i + 1] === undefined) {
    console.error(`cluster.mjs: bad argument ${args[i]} (flags: ${known.join(' ')}, each with a value)`);
    process.exit(2);
  }
}
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ports = (name, dflt) => {
  const list = flag(name, dflt).split(',').map(Number);
  if (list.length !== 3 || !list.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
    console.error(`cluster.mjs: --${name} needs three ports`);
    process.exit(2);
  }
  return list;
};
const engine = flag('engine', 'memory');
const dataDir = resolve(flag('data-dir', 'metcd-data'));
const clientPorts = ports('client-ports', '12380,22380,32380');
const cluster = ports('peer-ports', '12379,22379,32379')
  .map((p) => `http://127.0.0.1:${p}`)
  .join(',');

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
      String(clientPorts[id - 1]),
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
console.log(`clients: ${clientPorts.map((p) => `http://127.0.0.1:${p}`).join(' ')}`);
console.log(
  `try: curl -L http://127.0.0.1:${clientPorts[0]}/hello -XPUT -d world && curl -L http://127.0.0.1:${clientPorts[1]}/hello`,
);
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
