#!/usr/bin/env node
// Failover time, kv-server vs Debian etcd: a 3-member cluster under a sequential write loop, the leader
// SIGKILLed, and the time from the kill to the next acknowledged write (through the survivors). Rounds
// alternate between the two servers; prints every round and the medians.
//
//   node tools/bench/failover.mjs [--rounds 5] [--members 3] [--election-ms 1000] [--heartbeat-ms 100]
//
// Both servers get the same flags (etcd's defaults: heartbeat 100 ms, election 1000 ms). The client retries
// each write on the surviving members with a 200 ms deadline, so the resolution is ~200 ms at worst.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KvClient } from '../../packages/client/dist/index.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    members: { type: 'string', default: '3' },
    'election-ms': { type: 'string', default: '1000' },
    'heartbeat-ms': { type: 'string', default: '100' },
  },
});
const ROUNDS = Number(args.rounds);
const MEMBERS = Number(args.members);

const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startCluster(target) {
  const dir = mkdtempSync(join(tmpdir(), `failover-${target}-`));
  const members = [];
  for (let i = 0; i < MEMBERS; i++)
    members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  const ic = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const token = `failover-${Date.now()}`;
  for (const m of members) {
    const flags = [
      '--name',
      m.name,
      '--data-dir',
      join(dir, m.name),
      '--listen-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-cluster',
      ic,
      '--initial-cluster-token',
      token,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      args['heartbeat-ms'],
      '--election-timeout',
      args['election-ms'],
    ];
    const cmd = target === 'etcd' ? 'etcd' : join(ROOT, 'bin', 'kv-server');
    m.proc = spawn(cmd, flags, { stdio: 'ignore' });
    m.endpoint = `http://127.0.0.1:${m.client}`;
  }
  return { dir, members };
}

async function stopCluster(c) {
  for (const m of c.members) if (m.proc.exitCode === null) m.proc.kill('SIGKILL');
  await sleep(300);
  rmSync(c.dir, { recursive: true, force: true });
}

/** The member whose Status says it leads, from any member that answers. */
async function leaderOf(c) {
  for (let tries = 0; tries < 100; tries++) {
    for (const m of c.members) {
      const client = new KvClient({ endpoints: [m.endpoint], commandTimeoutMs: 500 });
      try {
        const st = await client.status();
        const lead = String(st.leader);
        const id = String(st.header?.memberId);
        if (lead !== '0' && lead === id) return m;
      } catch {
      } finally {
        client.close();
      }
    }
    await sleep(100);
  }
  throw new Error('no leader');
}

async function putOnce(clients, key) {
  for (const c of clients) {
    try {
      await c.put(key, 'v');
      return true;
    } catch {}
  }
  return false;
}

async function round(target) {
  const c = await startCluster(target);
  try {
    const leader = await leaderOf(c);
    const survivors = c.members.filter((m) => m !== leader);
    const clients = survivors.map((m) => new KvClient({ endpoints: [m.endpoint], commandTimeoutMs: 200 }));
    // Warm up: writes flow through every survivor.
    for (let i = 0; i < 50; i++) await putOnce(clients, `warm${i}`);
    const killedAt = performance.now();
    leader.proc.kill('SIGKILL');
    let n = 0;
    while (!(await putOnce(clients, `after${n++}`))) {
      if (performance.now() - killedAt > 30_000) throw new Error('no write acknowledged within 30 s');
    }
    const ms = performance.now() - killedAt;
    for (const cl of clients) cl.close();
    return ms;
  } finally {
    await stopCluster(c);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { etcd: [], kv: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const target of ['etcd', 'kv']) {
    const ms = await round(target);
    results[target].push(ms);
    console.log(
      `round ${r + 1} ${target}: ${ms.toFixed(0)} ms from leader SIGKILL to the next acknowledged write`,
    );
  }
}
const e = median(results.etcd);
const k = median(results.kv);
console.log(
  `median over ${ROUNDS} rounds: etcd ${e.toFixed(0)} ms, kv ${k.toFixed(0)} ms, kv/etcd ${(k / e).toFixed(2)}`,
);
