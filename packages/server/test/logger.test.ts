/**
 * The zap-shaped JSON logger on pino (src/log/logger.ts): field names and level names as etcd 3.4's
 * zap writes them, a caller field pointing at the call site, BigInt ids as decimal strings, and
 * `--log-outputs` writing every line to each of several real files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger, openLogOutputs } from '../src/log/logger.js';

const capture = () => {
  const lines: string[] = [];
  return { lines, sink: { write: (l: string) => lines.push(l) } };
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('Logger', () => {
  it("writes zap's fields: level name, ISO ts, caller, msg, then the fields", () => {
    const { lines, sink } = capture();
    new Logger('info', sink).info('ready to serve client requests', { address: '127.0.0.1:2379' });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const line = JSON.parse(lines[0]!);
    expect(Object.keys(line).sort()).toEqual(['address', 'caller', 'level', 'msg', 'ts']);
    expect(line.level).toBe('info');
    expect(line.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(line.msg).toBe('ready to serve client requests');
    expect(line.address).toBe('127.0.0.1:2379');
    // The call site: this file, relative to the package's source root as zap's "embed/etcd.go:117".
    expect(line.caller).toMatch(/logger\.test\.ts:\d+$/);
  });

  it('filters by --log-level and names every etcd level', () => {
    const { lines, sink } = capture();
    const log = new Logger('warn', sink);
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.log('panic', 'p');
    log.log('fatal', 'f');
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(['warn', 'error', 'panic', 'fatal']);
    expect(log.enabled('info')).toBe(false);
    expect(log.enabled('error')).toBe(true);
    expect(Logger.silent().enabled('fatal')).toBe(false);
  });

  it('prints BigInt ids as decimal strings, errors by message and URLs without the trailing slash', () => {
    const { lines, sink } = capture();
    const id = 0xfedcba9876543210n;
    new Logger('info', sink).with({ 'local-member-id': id }).info('added member', {
      ids: [id, 1n],
      nested: { id },
      error: new Error('boom'),
      url: new URL('http://a:1/'),
    });
    const line = JSON.parse(lines[0]!);
    expect(line['local-member-id']).toBe('18364758544493064720');
    expect(line.ids).toEqual(['18364758544493064720', '1']);
    expect(line.nested).toEqual({ id: '18364758544493064720' });
    expect(line.error).toBe('boom');
    expect(line.url).toBe('http://a:1');
  });

  it('a child logger adds its fields to every line and keeps the level', () => {
    const { lines, sink } = capture();
    const child = new Logger('info', sink).with({ 'member-id': 'a1' });
    child.debug('hidden');
    child.info('one');
    child.with({ peer: 'b2' }).warn('two');
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { msg: 'one', 'member-id': 'a1' },
      { msg: 'two', 'member-id': 'a1', peer: 'b2', level: 'warn' },
    ]);
  });
});

describe('openLogOutputs', () => {
  it('writes every line to each file (created, appended to)', () => {
    dir = mkdtempSync(join(tmpdir(), 'kv-log-'));
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    const outputs = openLogOutputs([a, b]);
    const log = new Logger('info', outputs.sink);
    log.info('first', { n: 1 });
    log.warn('second', { n: 2 });
    outputs.close();
    for (const file of [a, b]) {
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.level, l.msg, l.n])).toEqual([
        ['info', 'first', 1],
        ['warn', 'second', 2],
      ]);
    }
    // Appends, as zap opens with O_APPEND.
    const again = openLogOutputs([a]);
    new Logger('info', again.sink).info('third');
    again.close();
    expect(readFileSync(a, 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it("refuses etcd's refused combinations and the journal", () => {
    expect(() => openLogOutputs(['default', 'stderr'])).toThrow(
      'multi logoutput for "default" is not supported yet',
    );
    expect(() => openLogOutputs(['journal'])).toThrow(/journal is not supported/);
    // A file that cannot be opened (here: its directory does not exist) fails at once, as with zap.
    expect(() => openLogOutputs([join(tmpdir(), 'kv-no-such-dir', 'kv.log')])).toThrow(/ENOENT/);
  });
});
