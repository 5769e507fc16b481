#!/usr/bin/env node
/**
 * kv-check: checks a history file and prints the verdict as JSON.
 *   kv-check history.json [--model global|per-key] [--time-ms N] [--svg out.svg]
 * Exit code: 0 ok, 1 violation, 2 unknown (budget exhausted), 3 usage or input error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { checkHistory } from './check.js';
import { parseHistory } from './history.js';

function main(argv: string[]): number {
  const file = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const model = flag('--model') ?? 'global';
  if (!file || (model !== 'global' && model !== 'per-key')) {
    process.stderr.write(
      'usage: kv-check history.json [--model global|per-key] [--time-ms N] [--svg out.svg]\n',
    );
    return 3;
  }
  const timeMs = flag('--time-ms') === undefined ? undefined : Number(flag('--time-ms'));
  const report = checkHistory(parseHistory(readFileSync(file, 'utf8')), { model, timeMs });
  const svg = flag('--svg');
  if (svg && report.violation) writeFileSync(svg, report.violation.svg);
  const { searched: _searched, violation, ...summary } = report;
  const out = { ...summary, violation: violation && { stuck: violation.stuck, subHistory: violation.text } };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return report.verdict === 'ok' ? 0 : report.verdict === 'violation' ? 1 : 2;
}

process.exitCode = main(process.argv.slice(2));
