/**
 * Makes sure kv-server is built before the client tests start it. The client cannot depend on
 * @kv/server (the server depends on the client's codecs), so turbo does not order the two builds;
 * when the server's dist is missing, build it and its dependencies here with tsc (the client itself
 * is built already: turbo's test task depends on it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(import.meta.dirname, '..', '..', '..');
  const tsc = resolve(root, 'node_modules', '.bin', 'tsc');
  for (const pkg of ['wal', 'mvcc', 'raft', 'server']) {
    const dir = resolve(root, 'packages', pkg);
    if (existsSync(resolve(dir, 'dist', pkg === 'server' ? 'main.js' : 'index.js'))) continue;
    execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  }
}
