#!/usr/bin/env node
/**
 * Generates the API reference of @kv/client (docs/api.md) from the TSDoc of every export of
 * src/index.ts, using the TypeScript compiler that the repository already has (no extra tool).
 *
 *   node scripts/api-docs.mjs           write docs/api.md
 *   node scripts/api-docs.mjs --check   fail when an export lacks an @example or docs/api.md is stale
 *
 * Re-exports of the generated wire types (src/api/gen) are listed by name only: they are documented
 * in @kv/client/api.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const entry = resolve(pkg, 'src', 'index.ts');
const out = resolve(pkg, 'docs', 'api.md');

/** Collects the reference model: one entry per export, with members for classes. */
export function collect() {
  const program = ts.createProgram([entry], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
  const entries = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl = sym.declarations?.[0];
    if (!decl) continue;
    const file = relative(pkg, decl.getSourceFile().fileName);
    entries.push({
      name: exported.getName(),
      file,
      generated: file.includes('api/gen'),
      kind: kindOf(decl),
      signature: signatureOf(decl, sym, checker),
      ...docsOf(sym, checker),
      members: ts.isClassDeclaration(decl) ? membersOf(decl, checker) : [],
    });
  }
  entries.sort((a, b) => (a.file === b.file ? a.name.localeCompare(b.name) : a.file.localeCompare(b.file)));
  return entries;
}

function kindOf(decl) {
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isVariableDeclaration(decl)) return 'const';
  return 'export';
}

function docsOf(sym, checker) {
  const summary = ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();
  const examples = sym
    .getJsDocTags(checker)
    .filter((t) => t.name === 'example')
    .map((t) => ts.displayPartsToString(t.text).trim());
  return { summary, examples };
}

function signatureOf(decl, sym, checker) {
  if (ts.isFunctionDeclaration(decl)) {
    const sig = checker.getSignatureFromDeclaration(decl);
    return `function ${sym.getName()}${checker.signatureToString(sig)}`;
  }
  if (ts.isVariableDeclaration(decl)) {
    return `const ${sym.getName()}: ${checker.typeToString(checker.getTypeOfSymbol(sym), decl, ts.TypeFormatFlags.NoTruncation)}`;
  }
  if (ts.isClassDeclaration(decl)) {
    const heritage = decl.heritageClauses?.map((h) => h.getText()).join(' ') ?? '';
    return `class ${sym.getName()}${decl.typeParameters ? `<${decl.typeParameters.map((p) => p.getText()).join(', ')}>` : ''} ${heritage}`.trim();
  }
  // Interfaces, type aliases, enums: the declaration as written, without its doc comment.
  return decl.getText().replace(/^export\s+/, '');
}

function isPublic(member) {
  const mods = ts.getCombinedModifierFlags(member);
  if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  const name = member.name?.getText() ?? '';
  return !name.startsWith('#') && !name.startsWith('_') && !name.startsWith('[');
}

function membersOf(decl, checker) {
  const members = [];
  const seen = new Set();
  for (const m of decl.members) {
    if (!isPublic(m) || ts.isIndexSignatureDeclaration(m)) continue;
    if (ts.isConstructorDeclaration(m)) {
      // Constructors that take wiring (parameter properties) are made by the client, not by users.
      if (
        m.parameters.some((p) => ts.getCombinedModifierFlags(p) & ts.ModifierFlags.ParameterPropertyModifier)
      )
        continue;
      if (!m.body && seen.has('constructor')) continue;
      seen.add('constructor');
      members.push({
        name: 'constructor',
        signature: `new ${decl.name.getText()}(${m.parameters.map((p) => p.getText()).join(', ')})`,
        summary: '',
        examples: [],
      });
      continue;
    }
    const name = m.name?.getText();
    if (!name || seen.has(name)) continue;
    seen.add(name);
    const sym = checker.getSymbolAtLocation(m.name);
    let signature;
    if (ts.isMethodDeclaration(m)) {
      const type = checker.getTypeOfSymbolAtLocation(sym, m);
      signature = type
        .getCallSignatures()
        .map((s) => `${name}${checker.signatureToString(s)}`)
        .join('\n');
    } else if (ts.isGetAccessor(m)) {
      signature = `get ${name}(): ${checker.typeToString(checker.getTypeOfSymbolAtLocation(sym, m))}`;
    } else if (ts.isPropertyDeclaration(m)) {
      signature = `${m.modifiers?.some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword) ? 'readonly ' : ''}${name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(sym, m))}`;
    } else continue;
    members.push({ name, signature, ...docsOf(sym, checker) });
  }
  return members;
}

/** Renders the model as Markdown. */
export function render(entries) {
  const lines = [
    '# @kv/client API reference',
    '',
    'Generated by `node scripts/api-docs.mjs` from the TSDoc in `src/` (do not edit by hand;',
    '`test/api-docs.test.ts` fails when this file is stale or an export lacks an `@example`).',
    'The wire types and codecs re-exported from `@kv/client/api` are documented there.',
    '',
  ];
  const own = entries.filter((e) => !e.generated);
  let file = '';
  for (const e of own) {
    if (e.file !== file) {
      file = e.file;
      lines.push(`## ${file}`, '');
    }
    lines.push(`### ${e.name} (${e.kind})`, '', '```ts', e.signature, '```', '');
    if (e.summary) lines.push(e.summary, '');
    for (const ex of e.examples) lines.push('**Example**', '', ex, '');
    for (const m of e.members) {
      lines.push(`#### ${e.name}.${m.name}`, '', '```ts', m.signature, '```', '');
      if (m.summary) lines.push(m.summary, '');
      for (const ex of m.examples) lines.push('**Example**', '', ex, '');
    }
  }
  const reexported = entries.filter((e) => e.generated).map((e) => `\`${e.name}\``);
  if (reexported.length > 0) lines.push('## Re-exported from @kv/client/api', '', reexported.join(', '), '');
  const md = `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
  return format(md);
}

/** The repository's formatter (biome formats Markdown and the code blocks in it, and CI checks that). */
function format(md) {
  const biome = resolve(pkg, '..', '..', 'node_modules', '.bin', 'biome');
  return execFileSync(biome, ['format', `--stdin-file-path=${out}`], { input: md, encoding: 'utf8' });
}

/** Exports (outside the generated codecs) without an @example. */
export function missingExamples(entries) {
  return entries.filter((e) => !e.generated && e.examples.length === 0).map((e) => `${e.name} (${e.file})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = collect();
  const md = render(entries);
  if (process.argv.includes('--check')) {
    const missing = missingExamples(entries);
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {}
    if (missing.length > 0) console.error(`exports without @example:\n  ${missing.join('\n  ')}`);
    if (current !== md) console.error('docs/api.md is stale: run node scripts/api-docs.mjs');
    process.exit(missing.length > 0 || current !== md ? 1 : 0);
  }
  writeFileSync(out, md);
  console.log(`wrote ${relative(process.cwd(), out)} (${entries.length} exports)`);
}
