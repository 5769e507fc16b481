/** The compiled package, for tests that run it in a child process (crash tests). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package directory (packages/mvcc). */
export const pkgDir = fileURLToPath(new URL('../..', import.meta.url));

/** Builds dist/ from the current sources (a child process must not run a stale build). */
export function buildPackage(): void {
  const tsc = join(pkgDir, '../../node_modules/.bin/tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: pkgDir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
}
