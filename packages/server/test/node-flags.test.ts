/**
 * `bin/kv-server` (what `npm start` and the benchmarks run) and `dist/main.js`'s shebang (what an
 * installed `kv-server` runs) must start node with the same V8 flags: the heap settings in them were
 * chosen by measurement (docs/benchmarks.md), and a flag changed in one place only would make the two
 * behave differently under load.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

function scriptFlags(): string[] {
  const script = readFileSync(join(root, 'bin', 'kv-server'), 'utf8');
  const m = /^exec node (.*?) \$\{KV_NODE_FLAGS/m.exec(script);
  if (!m) throw new Error('bin/kv-server: no "exec node FLAGS $KV_NODE_FLAGS" line');
  return m[1]!.split(/\s+/);
}

function shebangFlags(): string[] {
  const first = readFileSync(join(root, 'packages', 'server', 'src', 'main.ts'), 'utf8').split('\n')[0]!;
  const prefix = '#!/usr/bin/env -S node ';
  if (!first.startsWith(prefix)) throw new Error(`src/main.ts: unexpected first line ${first}`);
  return first.slice(prefix.length).trim().split(/\s+/);
}

describe('the server binary node flags', () => {
  it('are the same in bin/kv-server and in the shebang of src/main.ts', () => {
    expect(shebangFlags()).toEqual(scriptFlags());
  });

  it('include the measured heap settings (docs/benchmarks.md, session 22)', () => {
    // The two go together: with a 64 MiB semi-space, V8's dynamic heap growth left the old generation
    // less room than the young generation's maximum, and V8 then marked and compacted every ~0.5 s on a
    // warmed cluster member; a fixed growth factor of 4 leaves enough.
    expect(scriptFlags()).toEqual(
      expect.arrayContaining(['--max-semi-space-size=64', '--heap-growing-percent=300']),
    );
  });

  it('are all accepted by this node', () => {
    const r = spawnSync(process.execPath, [...scriptFlags(), '-e', 'process.exit(0)'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
