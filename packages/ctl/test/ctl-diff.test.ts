/**
 * Differential test: the same command lines run through Debian's etcdctl 3.4 and through kvctl
 * (packages/ctl/dist/main.js, built by the `test` script) against fresh real etcd members; the
 * normalised outputs (stdout+stderr and exit code of every line) must be identical.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startEtcd } from './etcd.js';
import { normalize } from './normalize.js';

const here = dirname(fileURLToPath(import.meta.url));
const KVCTL = `node ${join(here, '..', 'dist', 'main.js')}`;

interface Case {
  name: string;
  lines: string[];
}

function loadCases(path: string): Case[] {
  const cases: Case[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (l.startsWith('## ')) cases.push({ name: l.slice(3).trim(), lines: [] });
    else if (l.startsWith('#') || l.trim() === '') continue;
    else cases.at(-1)?.lines.push(l);
  }
  return cases;
}

/** Runs one case's lines with `tool` as $CTL on a fresh etcd; returns the normalised transcript. */
async function runCase(c: Case, tool: string): Promise<string> {
  const etcd = await startEtcd();
  try {
    const script = ['set +e', ...c.lines.map((l) => `{ ${l}\n} 2>&1; echo "[exit $?]"`)].join('\n');
    const env = {
      ...process.env,
      ETCDCTL_API: '3',
      EP: etcd.clientUrl,
      TMPD: etcd.dir,
      CTL: `${tool} --endpoints=${etcd.clientUrl}`,
      TOOL: tool,
      PEER2: `http://127.0.0.1:${etcd.ports.peer2}`,
      PBDEC: `node ${join(here, 'pb-decode.mjs')}`,
    };
    const raw = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('error', reject);
      // 'close', not 'exit': the process can exit before its last output is read from the pipes
      // (that lost etcdctl's last line of a case once in CI, session 10).
      child.once('close', () => resolve(out));
    });
    return normalize(raw, etcd.ports, etcd.dir);
  } finally {
    await etcd.stop();
  }
}

const cases = loadCases(join(here, 'ctl-cases.txt'));

describe.concurrent('kvctl matches etcdctl 3.4 output', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const [want, got] = await Promise.all([runCase(c, 'etcdctl'), runCase(c, KVCTL)]);
      expect(want).toContain('[exit');
      expect(got).toBe(want);
    });
  }
});
