// The @kv/raft README teaches with excerpts of this example. Each ```ts block that starts with
// `// examples/metcd/src/FILE.ts` must be a verbatim piece of FILE: its lines appear there in the same
// order, indentation aside (biome re-indents code blocks in markdown); `// ...` marks an elision.
// An edit to src/ that a tutorial excerpt no longer matches fails this test.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const pkg = resolve(import.meta.dirname, '..');
const readme = readFileSync(join(pkg, '..', '..', 'packages', 'raft', 'README.md'), 'utf8');

function excerpts(): { file: string; lines: string[] }[] {
  const out: { file: string; lines: string[] }[] = [];
  for (const m of readme.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const [first, ...rest] = m[1]!.trimEnd().split('\n');
    const file = /^\/\/ examples\/metcd\/(src\/[\w-]+\.ts)$/.exec(first ?? '')?.[1];
    if (file) {
      const lines = rest.map((l) => l.trim()).filter((l) => l !== '' && l !== '// ...');
      out.push({ file, lines });
    }
  }
  return out;
}

/** Index in `source` after which every line of `lines` was found in order, or the first line not found. */
function findInOrder(source: string[], lines: string[]): string | undefined {
  let at = 0;
  for (const line of lines) {
    const found = source.indexOf(line, at);
    if (found < 0) return line;
    at = found + 1;
  }
  return undefined;
}

it('every metcd excerpt in the raft README is verbatim from the example', () => {
  const all = excerpts();
  expect(all.length).toBeGreaterThanOrEqual(10);
  for (const { file, lines } of all) {
    const source = readFileSync(join(pkg, file), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    expect(findInOrder(source, lines), `${file}: line not found (in order)`).toBeUndefined();
  }
});
