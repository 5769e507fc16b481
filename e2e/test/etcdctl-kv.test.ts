// CRUD, transactions, compaction and snapshot save, driven by Debian's etcdctl against a real process.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess } from './support/server.js';

let server: ServerProcess;
const ctl = (...args: string[]) => etcdctl(server.endpoint, args);

beforeAll(async () => {
  server = await ServerProcess.start();
});
afterAll(async () => {
  await server?.destroy();
});

describe('etcdctl against the server', () => {
  it('puts, gets and deletes keys', async () => {
    expect((await ctl('put', 'e2e/a', '1')).stdout.trim()).toBe('OK');
    expect((await ctl('put', 'e2e/b', '2')).stdout.trim()).toBe('OK');
    expect((await ctl('get', 'e2e/a')).stdout).toBe('e2e/a\n1\n');
    expect((await ctl('get', 'e2e/', '--prefix', '--keys-only')).stdout).toBe('e2e/a\n\ne2e/b\n\n');
    const json = JSON.parse((await ctl('get', 'e2e/a', '-w', 'json')).stdout);
    expect(json.count).toBe(1);
    expect(Buffer.from(json.kvs[0].value, 'base64').toString()).toBe('1');
    expect(json.kvs[0].version).toBe(1);
    expect((await ctl('del', 'e2e/', '--prefix')).stdout.trim()).toBe('2');
    expect((await ctl('get', 'e2e/', '--prefix')).stdout).toBe('');
  });

  it('reads history by revision and reports versions', async () => {
    await ctl('put', 'hist', 'v1');
    const rev1 = JSON.parse((await ctl('get', 'hist', '-w', 'json')).stdout).header.revision as number;
    await ctl('put', 'hist', 'v2');
    expect((await ctl('get', 'hist', `--rev=${rev1}`)).stdout).toBe('hist\nv1\n');
    const now = JSON.parse((await ctl('get', 'hist', '-w', 'json')).stdout);
    expect(now.kvs[0].version).toBe(2);
    expect(now.kvs[0].mod_revision).toBe(rev1 + 1);
  });

  it('runs transactions with compares and both branches', async () => {
    await ctl('put', 'tx', 'bar');
    const ok = await etcdctl(
      server.endpoint,
      ['txn'],
      'value("tx") = "bar"\n\nput tx baz\n\nput other x\n\n',
    );
    expect(ok.stdout).toBe('SUCCESS\n\nOK\n');
    const no = await etcdctl(
      server.endpoint,
      ['txn'],
      'value("tx") = "nope"\n\nput tx qux\n\nput other y\n\n',
    );
    expect(no.stdout).toBe('FAILURE\n\nOK\n');
    expect((await ctl('get', 'tx')).stdout).toBe('tx\nbaz\n');
    expect((await ctl('get', 'other')).stdout).toBe('other\ny\n');
    const dup = await etcdctl(server.endpoint, ['txn'], '\nput d 1\nput d 2\n\n\n');
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('duplicate key given in txn request');
  });

  it('compacts history and refuses compacted revisions', async () => {
    await ctl('put', 'c', '1');
    await ctl('put', 'c', '2');
    const rev = JSON.parse((await ctl('get', 'c', '-w', 'json')).stdout).header.revision as number;
    await ctl('put', 'c', '3');
    expect((await ctl('compaction', String(rev))).stdout.trim()).toBe(`compacted revision ${rev}`);
    const old = await ctl('get', 'c', `--rev=${rev - 1}`);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('required revision has been compacted');
    expect((await ctl('get', 'c', `--rev=${rev}`)).stdout).toBe('c\n2\n');
  });

  it('rejects empty keys and oversized requests with etcd errors', async () => {
    const empty = await ctl('put', '', 'v');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('key is not provided');
    const big = await etcdctl(server.endpoint, ['put', 'big'], 'x'.repeat(2_000_000));
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/request is too large|trying to send message larger than max/);
  });

  it('saves a snapshot to a file', async () => {
    await ctl('put', 'snap', 'shot');
    const file = join(server.dataDir, '..', 'snap.db');
    const r = await ctl('snapshot', 'save', file);
    expect(r.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).size).toBeGreaterThan(0);
  });

  it('reports status, health and the member list', async () => {
    const status = JSON.parse((await ctl('endpoint', 'status', '-w', 'json')).stdout);
    expect(status[0].Status.leader).toBe(status[0].Status.header.member_id);
    expect(status[0].Status.raftIndex).toBeGreaterThan(0);
    const members = JSON.parse((await ctl('member', 'list', '-w', 'json')).stdout);
    expect(members.members).toHaveLength(1);
    expect(members.members[0].name).toBe('e2e');
    expect(members.members[0].clientURLs).toEqual([server.endpoint]);
    expect((await ctl('endpoint', 'health')).code).toBe(0);
  });
});
