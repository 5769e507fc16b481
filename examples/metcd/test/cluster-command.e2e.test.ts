// The one command that starts a local cluster (cluster.mjs) really starts three members that replicate,
// and stops all three on SIGTERM.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { freePort, waitFor } from './support/member.js';

const script = resolve(import.meta.dirname, '..', 'cluster.mjs');
let root = '';
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

it('node cluster.mjs starts 3 replicating members and SIGTERM stops them all', async () => {
  root = mkdtempSync(join(tmpdir(), 'metcd-cmd-'));
  const client = [await freePort(), await freePort(), await freePort()];
  const peer = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    [script, '--data-dir', root, '--client-ports', client.join(','), '--peer-ports', peer.join(',')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  const exited = once(proc, 'exit');
  try {
    await waitFor('PUT through member 1', async () => {
      const res = await fetch(`http://127.0.0.1:${client[0]}/hello`, { method: 'PUT', body: 'world' });
      return res.status === 204 ? true : undefined;
    });
    for (const port of client) {
      await waitFor(`the value on :${port}`, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/hello`);
        return res.status === 200 && (await res.text()) === 'world' ? true : undefined;
      });
    }
    // Member logs come out prefixed, as a Procfile runner shows them.
    expect(out).toMatch(/^metcd1 \| \{.*"msg":"metcd serving"/m);
    expect(out).toMatch(/^metcd3 \| \{.*"msg":"metcd serving"/m);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
  for (const id of [1, 2, 3]) expect(out).toContain(`metcd${id} exited (0)`);
});
