/**
 * Makes sure kv-server is built before the client tests start it. The client cannot depend on
 * @kv/server (the server depends on the client's codecs), so turbo does not order the two builds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(import.meta.dirname, '..', '..', '..');
  if (existsSync(resolve(root, 'packages', 'server', 'dist', 'main.js'))) return;
  const bin = resolve(root, 'node_modules', '.bin');
  // turbo looks for the package manager (pnpm) on PATH.
  execFileSync(resolve(bin, 'turbo'), ['run', 'build', '--filter=@kv/server...'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
}
