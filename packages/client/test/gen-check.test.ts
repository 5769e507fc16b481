/** The committed generated code matches what tools/gen-proto.mjs produces from proto/ today. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './proto-fixtures.js';

describe('gen-proto --check', () => {
  it('reports every generated file as current', () => {
    const out = execFileSync(process.execPath, [join(repoRoot, 'tools/gen-proto.mjs'), '--check'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(out).toMatch(/generated file\(s\) are current/);
  });
});
