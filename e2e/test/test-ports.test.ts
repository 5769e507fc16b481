// tools/test-ports.mjs: the port helper every suite uses while vitest runs two test files at once. Real
// processes pick ports side by side; no port may be handed to two of them, and claims go away with
// their process (at exit, or pruned by the next process if it was killed).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/server.js';

const HELPER = join(REPO_ROOT, 'tools', 'test-ports.mjs');
const CLAIMS = join(tmpdir(), 'kv-test-ports');

/**
 * A node process that picks `n` ports, prints them as JSON and holds its claims until `release()` (its
 * stdin closes) makes it exit.
 */
async function picker(n: number): Promise<{ pid: number; ports: number[]; release: () => Promise<void> }> {
  const code = `import { freePort } from ${JSON.stringify(HELPER)};
    const ports = []; for (let i = 0; i < ${n}; i++) ports.push(await freePort());
    console.log(JSON.stringify(ports));
    process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  return {
    pid: child.pid!,
    ports: JSON.parse(out) as number[],
    release: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** The pid recorded in a port's claim file, or undefined when nobody claims the port. */
function claimOwner(port: number): number | undefined {
  try {
    return Number(readFileSync(join(CLAIMS, String(port)), 'utf8'));
  } catch {
    return undefined;
  }
}

describe('tools/test-ports.mjs', () => {
  it('never hands one port to two processes picking at once, and releases the claims at exit', async () => {
    const pickers = await Promise.all([picker(300), picker(300), picker(300)]);
    const all = pickers.flatMap((p) => p.ports);
    expect(all).toHaveLength(900);
    expect(new Set(all).size).toBe(900);
    for (const { pid, ports } of pickers) {
      for (const port of ports) {
        expect(port).toBeGreaterThanOrEqual(20_000);
        expect(port).toBeLessThan(32_000);
        expect(claimOwner(port)).toBe(pid);
      }
    }
    await Promise.all(pickers.map((p) => p.release()));
    // Released ports are free for anyone: a test file running beside this one may claim one of them at
    // once, so the check is that no claim is still held by a picker that exited.
    for (const { pid, ports } of pickers) {
      for (const port of ports) expect(claimOwner(port)).not.toBe(pid);
    }
  });

  it('prunes the claims of a process that was killed before it could release them', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const deadPid = child.pid!;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // A claim left by the dead process (on a port no live process claims) would keep its port from
    // ever being handed out again.
    mkdirSync(CLAIMS, { recursive: true });
    let stalePort = 0;
    for (let port = 20_000; !stalePort; port++) {
      try {
        writeFileSync(join(CLAIMS, String(port)), String(deadPid), { flag: 'wx' });
        stalePort = port;
      } catch {
        // claimed by a live test process: try the next one
      }
    }
    await (await picker(1)).release();
    // Pruned: the port is unclaimed, or claimed afresh by a live test process.
    expect(claimOwner(stalePort)).not.toBe(deadPid);
  });
});
