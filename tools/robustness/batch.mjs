#!/usr/bin/env node
// Many robustness runs in a row, then one table per (target, nemesis) for docs/reliability.md:
//   node tools/robustness/batch.mjs --targets kv,etcd --nemeses none,kill,pause --runs 5 \
//        --duration 15 --seed-base 1000 [--members N] [--fault MODE] [--timeout-ms N] [--out DIR]
// Seeds are seed-base, seed-base+1, ...; each run's directory is <out>/<target>-<nemesis>-<seed>.
// A nemesis `a+b` mixes a and b in one run. kv-only nemeses (failpoint) are skipped for etcd.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    targets: { type: 'string', default: 'kv,etcd' },
    members: { type: 'string', default: '1' },
    nemeses: { type: 'string', default: 'none,kill,pause' },
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '15' },
    clients: { type: 'string', default: '4' },
    keys: { type: 'string', default: '5' },
    'compact-every': { type: 'string', default: '0' },
    // kv only: a KV_FAULT mode (negative control: the rows then count the runs the checker caught).
    fault: { type: 'string', default: 'none' },
    'timeout-ms': { type: 'string', default: '2000' },
    'seed-base': { type: 'string', default: '1000' },
    out: { type: 'string', default: join(tmpdir(), 'kv-robustness-runs', 'batch') },
  },
});
const out = resolve(a.out);
mkdirSync(out, { recursive: true });
const here = import.meta.dirname;
const rows = [];
let seed = Number(a['seed-base']);
for (const target of a.targets.split(',')) {
  for (const nemesis of a.nemeses.split(',')) {
    if (target !== 'kv' && nemesis.includes('failpoint')) continue; // needs a gofail build of etcd
    const row = {
      target,
      nemesis,
      runs: 0,
      ops: 0,
      unknownOps: 0,
      faults: 0,
      violations: 0,
      unknown: 0,
      errors: 0,
      watchEvents: 0,
      seeds: [],
    };
    for (let i = 0; i < Number(a.runs); i++, seed++) {
      const dir = join(out, `${target}-${nemesis}-${seed}`);
      const args = [join(here, 'run.mjs'), '--target', target, '--nemesis', nemesis, '--seed', String(seed)];
      args.push('--duration', a.duration, '--clients', a.clients, '--keys', a.keys, '--out', dir);
      args.push(
        '--compact-every',
        a['compact-every'],
        '--members',
        a.members,
        '--timeout-ms',
        a['timeout-ms'],
      );
      if (a.fault !== 'none') args.push('--fault', a.fault);
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      row.runs++;
      row.seeds.push(seed);
      if (!existsSync(join(dir, 'verdict.json'))) {
        row.errors++;
        continue;
      }
      const v = JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8'));
      row.ops += v.operations.total;
      row.unknownOps += v.operations.unknown;
      row.faults += v.faults.length;
      row.watchEvents += v.watches.events;
      if (v.verdict === 'violation') row.violations++;
      if (v.verdict === 'unknown') row.unknown++;
      if (r.status !== 0 && v.verdict === 'ok') row.errors++;
    }
    rows.push(row);
  }
}
const lines = [
  `| target | nemesis | runs | ops checked | unknown-outcome ops | faults injected | violations | checker unknown | harness errors | watch events | seeds |`,
  '| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --- |',
  ...rows.map(
    (r) =>
      `| ${r.target} | ${r.nemesis} | ${r.runs} | ${r.ops} | ${r.unknownOps} | ${r.faults} | ${r.violations} | ${r.unknown} | ${r.errors} | ${r.watchEvents} | ${r.seeds[0]}–${r.seeds[r.seeds.length - 1]} |`,
  ),
];
const cmd = `node tools/robustness/batch.mjs --targets ${a.targets} --members ${a.members} --nemeses ${a.nemeses} --runs ${a.runs} --duration ${a.duration} --clients ${a.clients} --keys ${a.keys} --compact-every ${a['compact-every']}${a.fault === 'none' ? '' : ` --fault ${a.fault}`}${a['timeout-ms'] === '2000' ? '' : ` --timeout-ms ${a['timeout-ms']}`} --seed-base ${a['seed-base']}`;
writeFileSync(join(out, 'summary.md'), `${cmd}\n\n${lines.join('\n')}\n`);
writeFileSync(join(out, 'summary.json'), `${JSON.stringify(rows, null, 2)}\n`);
process.stdout.write(`${cmd}\n\n${lines.join('\n')}\n`);
process.exit(rows.some((r) => r.violations > 0 || r.errors > 0) ? 1 : 0);
