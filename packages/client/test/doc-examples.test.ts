/**
 * Every `@example` in the TSDoc type-checks against the real exports: each is compiled as the body
 * of an async function, after a prelude that imports everything @kv/client exports and declares the
 * few free variables examples assume (`client`, `session`, ...). Keeps the examples copy-pasteable.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { collect } from '../scripts/api-docs.mjs';

const pkg = resolve(import.meta.dirname, '..');
const index = resolve(pkg, 'src', 'index.ts').replace(/\.ts$/, '.js');
const api = resolve(pkg, 'src', 'api', 'index.ts').replace(/\.ts$/, '.js');

interface Example {
  where: string;
  code: string;
}

type Entry = {
  name: string;
  generated: boolean;
  examples: string[];
  members: { name: string; examples: string[] }[];
};

function examples(entries: Entry[]): Example[] {
  const out: Example[] = [];
  const add = (where: string, texts: string[]) => {
    for (const t of texts) out.push({ where, code: t.replace(/^```ts\n?/, '').replace(/\n?```$/, '') });
  };
  for (const e of entries) {
    if (e.generated) continue;
    add(e.name, e.examples);
    for (const m of e.members) add(`${e.name}.${m.name}`, m.examples);
  }
  // The README's recipes are meant for copying too.
  const readme = readFileSync(resolve(pkg, 'README.md'), 'utf8');
  const recipes = readme.slice(readme.indexOf('## Recipes'), readme.indexOf('### Design decisions'));
  for (const m of recipes.matchAll(/```ts\n([\s\S]*?)```/g)) add('README recipe', [m[1] ?? '']);
  return out;
}

function prelude(names: string[]): string {
  return [
    `import { ${names.join(', ')} } from '${index}';`,
    `import type { LeaseGrantResponse } from '${api}';`,
    'declare const client: KvClient;',
    'declare const readOnlyClient: KvClient;',
    'declare const session: Session;',
    'declare const election: Election;',
    'declare const watcher: Watcher;',
    'declare const endpoints: string[];',
    'declare const signal: AbortSignal;',
    'declare const apply: (stm: Stm) => Promise<void>;',
    'declare function readFileSync(path: string): Buffer;',
    '// Free variables of the README recipes.',
    'declare const instanceId: string;',
    'declare const nodeName: string;',
    'declare function stopLeading(): void;',
    'declare const data: Uint8Array;',
    'declare const externalStore: { write(d: Uint8Array, o: { fencingToken: number }): Promise<void> };',
    '',
  ].join('\n');
}

describe('TSDoc examples', () => {
  it('all type-check against the package exports', () => {
    const entries = collect() as Entry[];
    const all = examples(entries);
    const names = [...new Set(entries.map((e) => e.name))];
    const head = prelude(names);
    // One file, one function per example: a single program checks them all at once.
    const bodies: string[] = [];
    const starts: number[] = [];
    let line = head.split('\n').length;
    all.forEach((ex, i) => {
      const body = ex.code
        .split('\n')
        .filter((l) => !/^import .* from '@kv\/client'/.test(l))
        .join('\n');
      const fn = `export async function example${i}() {\n${body}\n}\n`;
      starts.push(line);
      line += fn.split('\n').length - 1;
      bodies.push(fn);
    });
    const files = new Map([[resolve(pkg, 'test', '__examples.ts'), head + bodies.join('')]]);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, lang, ...rest) => {
      const text = files.get(name);
      return text !== undefined
        ? ts.createSourceFile(name, text, lang)
        : getSourceFile.call(host, name, lang, ...rest);
    };
    host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
    host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
    const program = ts.createProgram([...files.keys()], options, host);
    const problems: string[] = [];
    for (const [name, text] of files) {
      const sf = program.getSourceFile(name);
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
        const owner = starts.filter((s) => s <= at).length - 1;
        const source = text.split('\n')[at] ?? '';
        problems.push(
          `${all[owner]?.where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')} — ${source.trim()}`,
        );
      }
    }
    expect(all.length).toBeGreaterThan(60);
    expect(problems).toEqual([]);
  });
});
