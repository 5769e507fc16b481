/**
 * The pure parts of kvctl's newer commands: inspection arithmetic, check perf's verdict, watch line
 * parsing, the progress bar layout, make-mirror's key rewrite and the exact-id protobuf encoder.
 */
import { WatchResponse as WatchResponseCodec } from '@kv/client/api';
import { describe, expect, it } from 'vitest';
import { loadOf, perfVerdict, statsOf } from '../src/commands/check.js';
import { mirrorKey } from '../src/commands/mirror.js';
import { loadSnapshotApi } from '../src/commands/snapshot.js';
import { argify, parseWatchLine } from '../src/commands/watch.js';
import { consistencyVerdict, hottest, LargestValues, PrefixUsageCounter, prefixOf } from '../src/inspect.js';
import { ProgressBar, renderBar } from '../src/progress.js';
import { encodeHeaderOnlyResponse, encodeWatchResponse, headerBytesOf } from '../src/protobuf.js';
import { CtlError } from '../src/util.js';

describe('inspection cores', () => {
  it('groups keys by their first segments', () => {
    expect(prefixOf('/registry/pods/default/web', 2)).toBe('/registry/pods/');
    expect(prefixOf('/registry/pods/default/web', 1)).toBe('/registry/');
    expect(prefixOf('config/a/b', 1)).toBe('config/');
    expect(prefixOf('lonely', 1)).toBe('lonely');
    expect(prefixOf('a/b', 3)).toBe('a/b');
  });

  it('keeps the largest values, earlier keys first on ties', () => {
    const top = new LargestValues(3);
    for (const [key, size] of [
      ['a', 5],
      ['b', 9],
      ['c', 1],
      ['d', 9],
      ['e', 7],
    ] as const)
      top.add({ key, keyBytes: 1, valueBytes: size });
    expect(top.result().map((r) => r.key)).toEqual(['b', 'd', 'e']);
  });

  it('sums keys and bytes by prefix, largest first', () => {
    const u = new PrefixUsageCounter(1);
    u.add({ key: 'a/1', keyBytes: 3, valueBytes: 10 });
    u.add({ key: 'a/2', keyBytes: 3, valueBytes: 20 });
    u.add({ key: 'b/1', keyBytes: 3, valueBytes: 100 });
    expect(u.result()).toEqual([
      { prefix: 'b/', keys: 1, bytes: 103 },
      { prefix: 'a/', keys: 2, bytes: 36 },
    ]);
  });

  it('ranks prefixes by writes over the window', () => {
    expect(hottest(['a/1', 'a/2', 'b/1', 'a/1'], 1, 2)).toEqual([
      { prefix: 'a/', writes: 3, rate: 1.5 },
      { prefix: 'b/', writes: 1, rate: 0.5 },
    ]);
  });

  it('passes equal hashes and names the members that differ', () => {
    const same = consistencyVerdict(7, [
      { endpoint: 'x', hash: 11, compactRevision: 0 },
      { endpoint: 'y', hash: 11, compactRevision: 0 },
    ]);
    expect(same).toEqual({
      ok: true,
      line: 'PASS: 2 members agree at revision 7 (hash 11, compact revision 0)',
    });
    const differ = consistencyVerdict(7, [
      { endpoint: 'x', hash: 11, compactRevision: 0 },
      { endpoint: 'y', hash: 12, compactRevision: 0 },
      { endpoint: 'z', hash: 11, compactRevision: 0 },
    ]);
    expect(differ).toEqual({
      ok: false,
      line: 'FAIL: members disagree at revision 7: x,z: hash 11, compact revision 0; y: hash 12, compact revision 0',
    });
  });
});

describe('check perf verdict (etcdctl 3.4 rules)', () => {
  it('passes a run at the profile rate', () => {
    const v = perfVerdict({ rps: 149.6, slowest: 0.0213, stddev: 0.0031, errors: new Map() }, 150);
    expect(v).toEqual({
      ok: true,
      lines: [
        'PASS: Throughput is 150 writes/s',
        'PASS: Slowest request took 0.021300s',
        'PASS: Stddev is 0.003100s',
        'PASS',
      ],
    });
  });

  it('fails low throughput, slow requests, high deviation and errors, with etcdctl lines', () => {
    const v = perfVerdict(
      { rps: 100, slowest: 0.75, stddev: 0.2, errors: new Map([['etcdserver: too many requests', 3]]) },
      150,
    );
    expect(v).toEqual({
      ok: false,
      lines: [
        'FAIL: too many errors',
        'FAIL: ERROR(etcdserver: too many requests) -> 3',
        'FAIL: Throughput too low: 101 writes/s',
        'Slowest request took too long: 0.750000s',
        'Stddev too high: 0.200000s',
        'FAIL',
      ],
    });
  });

  it('computes rate, slowest and population deviation', () => {
    const s = statsOf([0.1, 0.3], new Map(), 4);
    expect(s.rps).toBe(0.5);
    expect(s.slowest).toBe(0.3);
    expect(s.stddev).toBeCloseTo(0.1, 10);
  });

  it("accepts etcdctl's load names and refuses others with exit 4", () => {
    expect(['s', 'small', 'm', 'medium', 'l', 'large', 'xl', 'xLarge'].map(loadOf)).toEqual([
      's',
      's',
      'm',
      'm',
      'l',
      'l',
      'xl',
      'xl',
    ]);
    const err = (() => {
      try {
        return loadOf('huge');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CtlError);
    expect(err).toMatchObject({ message: 'unknown load option huge', exitCode: 4 });
  });
});

describe('watch request lines', () => {
  it("splits words like etcdctl's argify", () => {
    expect(argify(`watch "a b" 'c d' --prefix`)).toEqual(['watch', 'a b', 'c d', '--prefix']);
  });

  it('parses flags, range and exec command', () => {
    expect(parseWatchLine(argify('watch --rev 3 --prev-kv k1 k9 -- echo hi'))).toEqual({
      key: 'k1',
      rangeEnd: 'k9',
      prefix: false,
      rev: 3,
      prevKv: true,
      progressNotify: false,
      exec: ['echo', 'hi'],
    });
    expect(parseWatchLine(argify('watch --prefix=true p/'))).toMatchObject({ key: 'p/', prefix: true });
  });

  it('refuses lines etcdctl refuses, with its messages', () => {
    expect(() => parseWatchLine(['watch', 'k', '--'])).toThrow(
      'bad number of arguments (found separator --, but no commands)',
    );
    expect(() => parseWatchLine(['watch', '--prefix'])).toThrow('bad number of arguments');
    expect(() => parseWatchLine(['watch', 'a', 'b', '--prefix'])).toThrow('mutually exclusive');
    expect(() => parseWatchLine(['watch', 'k'], { key: 'env', rangeEnd: '' })).toThrow(
      'found conflicting environment key',
    );
    expect(parseWatchLine(['watch', '--prefix'], { key: 'env', rangeEnd: '' })).toMatchObject({ key: 'env' });
  });
});

describe('progress bar', () => {
  it('lays out a bar with percentage and counts, or a bare count without a total', () => {
    expect(renderBar(5, 10, 20, 's')).toBe('[==========>         ]  50% 5 / 10 s');
    expect(renderBar(10, 10, 10, '')).toBe('[==========] 100% 10 / 10');
    expect(renderBar(12345, undefined, 10, 'keys')).toBe('12345 keys');
  });

  it('draws only on a terminal', () => {
    const written: string[] = [];
    const pipe = new ProgressBar(2, { stream: { isTTY: false, write: (t: string) => written.push(t) } });
    pipe.add(1);
    pipe.finish();
    expect(written).toEqual([]);
    const tty = new ProgressBar(2, {
      stream: { isTTY: true, columns: 60, write: (t: string) => written.push(t) },
      intervalMs: 0,
    });
    tty.add(2);
    tty.finish();
    expect(written.join('')).toContain('100% 2 / 2');
    expect(written.at(-1)).toBe('\n');
  });
});

describe('make-mirror key rewrite', () => {
  it('replaces the first occurrence of the source prefix (strings.Replace n=1)', () => {
    const t = (k: string, from: string, to: string) =>
      Buffer.from(mirrorKey(Buffer.from(k), from, to)).toString();
    expect(t('src/a', 'src/', 'dst/')).toBe('dst/a');
    expect(t('src/src/a', 'src/', '')).toBe('src/a');
    expect(t('other', 'src/', 'dst/')).toBe('other');
  });
});

describe('protobuf output', () => {
  const header = { clusterId: 0xf00dfeedcafebeefn, memberId: 0x8e9e05c52164694dn, revision: 9, raftTerm: 2 };

  it('encodes a watch response with 64-bit ids exactly', () => {
    const bytes = encodeWatchResponse({
      header,
      watchId: 5,
      created: false,
      canceled: false,
      compactRevision: 0,
      cancelReason: '',
      fragment: false,
      events: [
        {
          type: 0,
          kv: {
            key: Buffer.from('k'),
            createRevision: 8,
            modRevision: 9,
            version: 2,
            value: Buffer.from('v'),
            lease: 0x7fffffffffffff01n,
          },
        },
      ],
    } as never);
    const back = WatchResponseCodec.decode(bytes);
    expect(back.watchId).toBe(0n);
    expect(back.header?.revision).toBe(9);
    expect(back.events[0]?.kv?.modRevision).toBe(9);
    // The generated decoder rounds ids above 2^53; the header bytes carry them exactly.
    const hdr = headerBytesOf(bytes);
    expect(Buffer.from(hdr).toString('hex')).toBe(
      Buffer.from(headerBytesOf(encodeHeaderOnlyResponse(header as never))).toString('hex'),
    );
    expect(hdr[0]).toBe(0x08);
    // 0xf00dfeedcafebeef as a varint (computed independently), right after the tag.
    expect(Buffer.from(hdr.subarray(1, 11)).toString('hex')).toBe('effdfad7dcddff86f001');
  });

  it('prints nothing for a response without a header', () => {
    expect(encodeHeaderOnlyResponse(undefined)).toEqual(new Uint8Array());
  });
});

describe('offline snapshot commands without @kv/server', () => {
  it('fail with a message that says what to install (exit 4)', async () => {
    const err = await loadSnapshotApi('@kv/not-installed').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CtlError);
    expect((err as CtlError).exitCode).toBe(4);
    expect((err as CtlError).message).toContain('install it next to @kv/ctl (npm install @kv/not-installed)');
  });
});
