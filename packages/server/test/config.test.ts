import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAGS } from '../src/config/flags.js';
import { ConfigError, helpText, parseArgs, parseGoDuration } from '../src/config/parse.js';

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const out = parseArgs(argv, env);
  if (out.action !== 'run') throw new Error(`unexpected ${out.action}`);
  return out.config;
};

describe('config: defaults and flags', () => {
  it("uses etcd's defaults", () => {
    const c = run([]);
    expect(c.name).toBe('default');
    expect(c.dataDir).toBe('default.etcd');
    expect(c.listenClientUrls.map((u) => u.origin)).toEqual(['http://localhost:2379']);
    expect(c.listenPeerUrls.map((u) => u.origin)).toEqual(['http://localhost:2380']);
    expect(c.snapshotCount).toBe(100000);
    expect(c.heartbeatMs).toBe(100);
    expect(c.electionMs).toBe(1000);
    expect(c.maxRequestBytes).toBe(1572864);
    expect(c.maxTxnOps).toBe(128);
    expect(c.backend).toBe('level');
    expect(c.backendMaxOpenFiles).toBe(74);
    expect(c.initialClusterState).toBe('new');
    expect([...c.initialCluster]).toEqual([['default', ['http://localhost:2380']]]);
  });

  it('accepts --flag value, --flag=value, -flag and bare booleans', () => {
    const c = run([
      '--name',
      'n1',
      '-data-dir=/tmp/x',
      '--snapshot-count=10',
      '--pre-vote',
      '--strict-reconfig-check=false',
    ]);
    expect(c.name).toBe('n1');
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.snapshotCount).toBe(10);
    expect(c.preVote).toBe(true);
    expect(c.strictReconfigCheck).toBe(false);
  });

  it('--backend-max-open-files sizes the level engine table cache', () => {
    expect(run(['--backend-max-open-files', '1000']).backendMaxOpenFiles).toBe(1000);
    expect(run(['--backend', 'level', '--backend-max-open-files=74']).backendMaxOpenFiles).toBe(74);
  });

  it('derives data dir and initial cluster from --name like etcd', () => {
    const c = run(['--name', 'infra1', '--initial-advertise-peer-urls', 'http://10.0.0.1:2380']);
    expect(c.dataDir).toBe('infra1.etcd');
    expect([...c.initialCluster]).toEqual([['infra1', ['http://10.0.0.1:2380']]]);
  });

  it('reads ETCD_* environment variables; flags win', () => {
    const c = run(['--name', 'fromflag'], {
      ETCD_NAME: 'fromenv',
      ETCD_SNAPSHOT_COUNT: '42',
      ETCD_BACKEND: 'memory',
    });
    expect(c.name).toBe('fromflag');
    expect(c.snapshotCount).toBe(42);
    expect(c.backend).toBe('memory');
    expect(c.warnings.some((w) => w.includes('ETCD_NAME'))).toBe(true);
  });

  it('warns about unknown ETCD_ variables', () => {
    const c = run([], { ETCD_NOPE: '1' });
    expect(c.warnings).toContain('unrecognized environment variable ETCD_NOPE=1');
  });

  it('reads a YAML --config-file with etcd keys and ignores flags then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-cfg-'));
    const file = join(dir, 'etcd.yaml');
    writeFileSync(
      file,
      [
        'name: yamlnode',
        'data-dir: /var/lib/kv',
        'snapshot-count: 5000',
        "listen-client-urls: 'http://127.0.0.1:3379'",
        "advertise-client-urls: 'http://127.0.0.1:3379'",
        "initial-advertise-peer-urls: 'http://127.0.0.1:3380'",
        "initial-cluster: 'yamlnode=http://127.0.0.1:3380'",
        'auto-compaction-mode: revision',
        "auto-compaction-retention: '100'",
        'backend: memory',
      ].join('\n'),
    );
    const c = run(['--config-file', file, '--name', 'ignored']);
    expect(c.name).toBe('yamlnode');
    expect(c.dataDir).toBe('/var/lib/kv');
    expect(c.snapshotCount).toBe(5000);
    expect(c.listenClientUrls[0]!.port).toBe('3379');
    expect(c.autoCompactionMode).toBe('revision');
    expect(c.backend).toBe('memory');
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses Go durations', () => {
    expect(parseGoDuration('5s')).toBe(5000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('100ms')).toBe(100);
    expect(() => parseGoDuration('5x')).toThrow();
  });
});

describe('config: errors', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--bogus'], /flag provided but not defined: -bogus/],
    [['--snapshot-count', 'abc'], /invalid value "abc" for flag -snapshot-count/],
    [['--backend', 'rocks'], /invalid value "rocks" for flag -backend/],
    [['--backend-max-open-files', '32'], /--backend-max-open-files must be between 74 and 50000/],
    [['--backend-max-open-files', '50001'], /--backend-max-open-files must be between 74 and 50000/],
    [['--backend', 'lmdb', '--backend-max-open-files', '100'], /applies to --backend level only/],
    [['--initial-cluster-state', 'old'], /invalid value "old"/],
    [['--listen-client-urls', 'http://127.0.0.1:1'], /--advertise-client-urls is required/],
    [['--listen-client-urls', 'ftp://x:1', '--advertise-client-urls', 'http://a:1'], /URL scheme must be/],
    [['--heartbeat-interval', '500'], /should be at least as 5 times as --heartbeat-interval/],
    [['--election-timeout', '60000'], /is too long/],
    [['--name', 'x', '--initial-cluster', 'y=http://a:1'], /couldn't find local name "x"/],
    [
      ['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1h'],
      /invalid auto-compaction-retention/,
    ],
    [['--name'], /flag needs an argument: -name/],
    // TLS: etcd's refusals of https:// URLs without certificates (the rest is in tls.test.ts).
    [
      ['--listen-client-urls', 'https://127.0.0.1:1', '--advertise-client-urls', 'https://127.0.0.1:1'],
      /TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127.0.0.1:1 with HTTPS scheme/,
    ],
    [
      ['--listen-peer-urls', 'https://127.0.0.1:2'],
      /cannot listen on TLS for 127.0.0.1:2: KeyFile and CertFile/,
    ],
  ];
  for (const [argv, msg] of bad) {
    it(`rejects ${argv.join(' ')}`, () => {
      expect(() => parseArgs(argv)).toThrow(ConfigError);
      expect(() => parseArgs(argv)).toThrow(msg);
    });
  }

  it('--help documents every flag', () => {
    expect(parseArgs(['--help']).action).toBe('help');
    const text = helpText();
    for (const f of FLAGS) expect(text).toContain(`--${f.name} `);
  });

  it('the binary exits 1 with a one-line error on an unknown flag', () => {
    const main = join(import.meta.dirname, '..', 'dist', 'main.js');
    const r = spawnSync(process.execPath, [main, '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('flag provided but not defined: -bogus');
  });
});
