// vitest globalSetup: the end-to-end tests run the compiled metcd (dist/main.js) as real processes, so
// compile it first; a stale dist would test old code.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export default function setup(): void {
  const pkg = resolve(import.meta.dirname, '..', '..');
  execFileSync(join(pkg, '..', '..', 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: pkg,
    stdio: 'inherit',
  });
}
