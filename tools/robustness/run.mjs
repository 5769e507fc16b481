#!/usr/bin/env node
// Robustness run: start a cluster of kv-server members (or Debian etcd with the same flags) on free
// loopback ports, drive concurrent clients (client i talks to member i mod N) and watches through
// @kv/client while a nemesis injects faults, record the history, check it with @kv/checker, and write
// everything to a run directory: history.json, verdict.json, server-m<i>.log, violation.svg (on a
// violation). Exit code: 0 ok, 1 violation, 2 unknown (checker budget) or harness failure.
//
//   node tools/robustness/run.mjs --target kv|etcd --members N --seed N --duration S --clients N \
//        --keys N --nemesis none|kill|pause|partition|leader-transfer|membership|failpoint --out DIR
//        [--max-ops N] [--timeout-ms N] [--check-ms N] [--rate OPS_PER_S_PER_CLIENT] [--compact-every S]
//        [--fault ack-before-fsync|stale-follower-read] [--corrupt none|stale-read|drop-watch-event]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KvClient } from '@kv/client';
import { checkHistory, HistoryRecorder, stringifyHistory } from '../../packages/checker/dist/index.js';
import { startCluster } from './cluster.mjs';
import { NEMESES, nemesisFor, runNemesis } from './nemesis.mjs';
import { makeRng } from './rng.mjs';
import { lateWatch, openWatches, PREFIX, runClients, runCompactor } from './traffic.mjs';

const { values: a } = parseArgs({
  options: {
    target: { type: 'string', default: 'kv' },
    members: { type: 'string', default: '1' },
    seed: { type: 'string', default: String(Date.now() % 1e9) },
    duration: { type: 'string', default: '20' },
    clients: { type: 'string', default: '4' },
    keys: { type: 'string', default: '5' },
    nemesis: { type: 'string', default: 'none' },
    out: { type: 'string' },
    'max-ops': { type: 'string', default: '20000' },
    'timeout-ms': { type: 'string', default: '2000' },
    'check-ms': { type: 'string', default: '120000' },
    rate: { type: 'string', default: '0' },
    // Extra server flags, e.g. --server-flags=--backend=memory (a kv-server that forgets on restart:
    // a negative control the checker must catch under --nemesis kill).
    'server-flags': { type: 'string', default: '' },
    'compact-every': { type: 'string', default: '0' },
    // kv-server only: a test-only fault mode that breaks a promise on purpose (KV_FAULT), so a run can
    // show the checker catches it.
    fault: { type: 'string', default: 'none' },
    // Self-test of the whole pipeline: falsify one recorded answer the way a buggy server would.
    corrupt: { type: 'string', default: 'none' },
  },
});

function fail(msg) {
  process.stderr.write(`robustness: ${msg}\n`);
  process.exit(2);
}
const int = (name, min) => {
  const n = Number(a[name]);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min} (got ${a[name]})`);
  return n;
};
if (a.target !== 'kv' && a.target !== 'etcd') fail(`--target must be kv or etcd (got ${a.target})`);
const nemesis = nemesisFor(a.nemesis);
if (!nemesis)
  fail(
    `--nemesis must be one of ${Object.keys(NEMESES).join('|')} or a comma-separated list (got ${a.nemesis})`,
  );
const members = int('members', 1);
if (members > 7) fail('--members must be at most 7');
if (nemesis.minMembers && members < nemesis.minMembers)
  fail(`--nemesis ${a.nemesis} needs --members ${nemesis.minMembers} or more`);
if (nemesis.kvOnly && a.target !== 'kv')
  fail(`--nemesis ${a.nemesis} is kv-only (etcd's failpoints need a gofail build of etcd)`);
const FAULT_MODES = ['none', 'ack-before-fsync', 'stale-follower-read'];
if (!FAULT_MODES.includes(a.fault)) fail(`--fault must be one of ${FAULT_MODES.join('|')} (got ${a.fault})`);
if (a.fault !== 'none' && a.target !== 'kv') fail('--fault is kv-only (a KV_FAULT mode of kv-server)');
const seed = int('seed', 0);
const duration = int('duration', 1);
const clients = int('clients', 1);
const keyCount = int('keys', 2);
const maxOps = int('max-ops', 1);
const timeoutMs = int('timeout-ms', 100);
const checkMs = int('check-ms', 1000);
const rate = int('rate', 0);
const compactEvery = int('compact-every', 0);
const CORRUPTIONS = ['none', 'stale-read', 'drop-watch-event'];
if (!CORRUPTIONS.includes(a.corrupt))
  fail(`--corrupt must be one of ${CORRUPTIONS.join('|')} (got ${a.corrupt})`);
const out = resolve(a.out ?? join(tmpdir(), 'kv-robustness-runs', `${a.target}-${a.nemesis}-${seed}`));
mkdirSync(out, { recursive: true });

const log = (msg, fields = {}) =>
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), msg, ...fields })}\n`);

async function main() {
  const rng = makeRng(seed);
  const keys = Array.from({ length: keyCount }, (_, i) => `k${i}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'kv-robustness-'));
  const cluster = await startCluster({
    target: a.target,
    dir: dataDir,
    logDir: out,
    size: members,
    extraFlags: a['server-flags'].split(' ').filter(Boolean),
    env: a.fault === 'none' ? {} : { KV_FAULT: a.fault },
  });
  const started = Date.now();
  let verdict;
  try {
    const admin = new KvClient({ endpoints: cluster.endpoints, commandTimeoutMs: 5000 });
    const first = await admin.get(PREFIX, { prefix: true });
    if (first.kvs.length > 0) throw new Error('the store is not empty');
    const initialRevision = first.header.revision;
    const recorder = new HistoryRecorder();
    const watches = await openWatches(cluster.endpoints, keys, initialRevision + 1);
    log('traffic', {
      target: a.target,
      members,
      seed,
      nemesis: a.nemesis,
      fault: a.fault,
      duration,
      clients,
      keys: keyCount,
    });
    const deadline = Date.now() + duration * 1000;
    const nem = runNemesis(nemesis, cluster, rng.fork());
    const compactor = runCompactor(cluster.endpoints, compactEvery * 1000);
    const stats = await runClients({
      endpoints: cluster.endpoints,
      clients,
      keys,
      rng: rng.fork(),
      recorder,
      timeoutMs,
      rate,
      until: () => Date.now() > deadline || recorder.events.length >= 2 * maxOps,
    });
    const faults = await nem.stop();
    const { done: compactions, requested: compactionsRequested } = await compactor.stop();
    // A last write inside every watched range, so "delivered everything up to here" is observable.
    // Right after a fault the cluster may still be electing a leader (a rejoining member disrupts the
    // term without pre-vote): attempts that time out are recorded as unknown-outcome puts and retried
    // for up to 30 s.
    let fin;
    const finalBy = Date.now() + 30_000;
    for (let closing = 1_000_000; !fin; closing++) {
      const value = `final-${closing - 1_000_000}`;
      recorder.invoke(closing, { type: 'put', key: keys[0], value });
      try {
        fin = await admin.put(PREFIX + keys[0], value);
        recorder.ok(closing, { type: 'put', revision: fin.header.revision });
      } catch (e) {
        recorder.info(closing, String(e?.message ?? e));
        if (Date.now() > finalBy) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const records = await watches.drain(fin.header.revision, 15_000);
    admin.close();
    recorder.watches.push(...records);
    // After a compaction, a watch from the first revision must end with ErrCompacted.
    if (compactions.length > 0) {
      const late = await lateWatch(cluster.endpoints, initialRevision + 1, fin.header.revision);
      if (!late.canceled) throw new Error('a watch from a compacted revision was not cancelled');
      recorder.watches.push(late);
    }
    const meta = {
      target: a.target,
      members,
      fault: a.fault,
      seed,
      nemesis: a.nemesis,
      duration,
      clients,
      keys: keyCount,
      faults,
      compactions,
    };
    const file = recorder.toFile({ revision: initialRevision, kvs: [] }, { ...meta, corrupt: a.corrupt });
    file.compactions = compactionsRequested;
    if (a.corrupt === 'stale-read' && !corruptStaleRead(file)) throw new Error('no read to corrupt');
    if (a.corrupt === 'drop-watch-event' && !dropWatchEvent(file)) throw new Error('no watch event to drop');
    writeFileSync(join(out, 'history.json'), stringifyHistory(file));
    log('checking', { events: file.events.length, ...stats, faults: faults.length });
    const t0 = Date.now();
    const report = checkHistory(file, { timeMs: checkMs });
    verdict = {
      verdict: report.verdict,
      target: a.target,
      members,
      fault: a.fault,
      seed,
      nemesis: a.nemesis,
      durationS: duration,
      clients,
      keys: keyCount,
      operations: report.operations,
      requests: stats,
      faults,
      compactions,
      linearizability: report.linearizability,
      serializable: { checked: report.serializable.checked, problems: report.serializable.problems },
      watches: report.watches,
      checkMs: Date.now() - t0,
      runMs: Date.now() - started,
      command: `node tools/robustness/run.mjs --target ${a.target} --members ${members}${a.fault === 'none' ? '' : ` --fault ${a.fault}`} --seed ${seed} --duration ${duration} --clients ${clients} --keys ${keyCount} --nemesis ${a.nemesis} --rate ${rate} --compact-every ${compactEvery}`,
    };
    if (report.violation) {
      writeFileSync(join(out, 'violation.svg'), report.violation.svg);
      verdict.violation = { stuck: report.violation.stuck, subHistory: report.violation.text };
    }
  } finally {
    await cluster.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  writeFileSync(join(out, 'verdict.json'), `${JSON.stringify(verdict, null, 2)}\n`);
  log('verdict', {
    verdict: verdict.verdict,
    ops: verdict.operations.total,
    unknown: verdict.operations.unknown,
    faults: verdict.faults.length,
    watchEvents: verdict.watches.events,
    out,
  });
  if (verdict.violation) process.stderr.write(`${verdict.violation.subHistory.join('\n')}\n`);
  return verdict.verdict === 'ok' ? 0 : verdict.verdict === 'violation' ? 1 : 2;
}

/**
 * Turns the last linearizable read that saw a key change into a stale read: it answers the value the
 * key had before, at the same header revision (what a member serving reads from a stale state would
 * say). The checker must catch it; the CI test runs this to prove the pipeline can fail.
 */
function corruptStaleRead(file) {
  const lastSeen = new Map(); // key -> kv seen by an earlier read
  let target;
  const open = new Map();
  for (const e of file.events) {
    if (e.type === 'invoke') open.set(e.process, e.request);
    if (e.type !== 'ok') continue;
    const req = open.get(e.process);
    if (req.type !== 'get' || req.serializable || e.response.kvs.length === 0) continue;
    const kv = e.response.kvs[0];
    const before = lastSeen.get(req.key);
    if (before && before.modRevision < kv.modRevision) target = { e, before };
    lastSeen.set(req.key, kv);
  }
  if (!target) return false;
  target.e.response.kvs = [target.before];
  return true;
}

/** Removes one event from the middle of the first watch, as a server that skipped a revision would. */
function dropWatchEvent(file) {
  const batches = file.watches[0]?.responses.filter((r) => 'events' in r && r.events.length > 0) ?? [];
  const batch = batches[Math.floor(batches.length / 2)];
  if (!batch) return false;
  batch.events.splice(0, 1);
  return true;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log('harness failure', { error: String(e?.stack ?? e) });
    process.exit(2);
  },
);
