/** KvClient leases, cluster, maintenance (status, hash, snapshot, alarms), auth and lock/election, against kv-server and etcd. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission_Type } from '../src/api/index.js';
import {
  AuthFailedError,
  KvClient,
  LeaseNotFoundError,
  PermissionDeniedError,
  toText,
} from '../src/index.js';
import { SERVER_KINDS, startServer, type TestServer } from './servers.js';

describe.each(SERVER_KINDS)('KvClient cluster against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
  });
  afterAll(() => server?.destroy());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  describe('KvClient leases', () => {
    it('grants, lists, attaches keys, reports TTL and revokes', async () => {
      const lease = await client.grant(100, 0x1234);
      expect(lease.ID).toBe(0x1234);
      expect(lease.TTL).toBe(100);
      await client.put('lk/1', 'a', { lease: lease.ID });
      await client.put('lk/2', 'b', { lease: lease.ID });
      const ttl = await client.timeToLive(lease.ID, { keys: true });
      expect(ttl.grantedTTL).toBe(100);
      expect(ttl.TTL).toBeGreaterThan(90);
      expect(ttl.keys.map(toText).sort()).toEqual(['lk/1', 'lk/2']);
      expect((await client.leases()).leases.map((l) => l.ID)).toContain(0x1234);
      await client.revoke(lease.ID);
      expect((await client.get('lk/', { prefix: true })).count).toBe(0);
      expect((await client.timeToLive(lease.ID)).TTL).toBe(-1);
      await expect(client.revoke(lease.ID)).rejects.toBeInstanceOf(LeaseNotFoundError);
      expect((await client.keepAliveOnce(lease.ID)).TTL).toBe(0);
    });

    it('keeps server-chosen 64-bit lease ids exact (etcd picks ids above 2^53)', async () => {
      const { ID } = await client.grant(60);
      const listed = execFileSync('etcdctl', [`--endpoints=${server.endpoint}`, 'lease', 'list'], {
        encoding: 'utf8',
      });
      expect(listed).toContain(ID.toString(16));
      expect((await client.timeToLive(ID)).ID).toBe(ID);
      await client.put('big-lease', 'v', { lease: ID });
      expect((await client.get('big-lease')).kvs[0]?.lease).toBe(ID);
      await client.revoke(ID);
      expect((await client.get('big-lease')).count).toBe(0);
    });

    it('keeps a lease alive past its TTL, then lets it expire after close', async () => {
      const { ID } = await client.grant(2);
      await client.put('ka', 'alive', { lease: ID });
      const ka = await client.keepAlive(ID);
      let renewals = 0;
      ka.on('keepalive', () => renewals++);
      await sleep(3500);
      expect((await client.get('ka')).count).toBe(1);
      expect(renewals).toBeGreaterThanOrEqual(2);
      ka.close();
      const deadline = Date.now() + 8000;
      while ((await client.get('ka')).count === 1 && Date.now() < deadline) await sleep(250);
      expect((await client.get('ka')).count).toBe(0);
    });

    it('reports a revoked lease as lost', async () => {
      const { ID } = await client.grant(3);
      const ka = await client.keepAlive(ID);
      const lost = new Promise<unknown>((resolve) => ka.on('lost', resolve));
      await client.revoke(ID);
      // The next renewal (at TTL/3) learns that the lease is gone.
      expect(await lost).toBeInstanceOf(LeaseNotFoundError);
    });
  });

  describe('KvClient cluster and maintenance', () => {
    it('lists members and reports status', async () => {
      const members = await client.memberList();
      expect(members.members).toHaveLength(1);
      const listed = execFileSync('etcdctl', [`--endpoints=${server.endpoint}`, 'member', 'list'], {
        encoding: 'utf8',
      });
      expect(listed.split(',')[0]).toBe(members.members[0]?.ID.toString(16));
      expect(members.members[0]?.name).toBe(server.name);
      expect(members.members[0]?.clientURLs).toEqual([server.endpoint]);
      expect(members.members[0]?.peerURLs).toEqual([server.peerUrl]);
      const status = await client.status();
      expect(status.version).toBe('3.4.23');
      expect(status.dbSize).toBeGreaterThan(0);
      expect(status.raftIndex).toBeGreaterThan(0);
      expect(status.leader).toBe(status.header?.memberId);
    });

    it('hashes, defragments and lists no alarms', async () => {
      await client.put('h', '1');
      const a = await client.hashKV();
      const b = await client.hashKV();
      expect(a.hash).toBe(b.hash);
      await client.put('h', '2');
      expect((await client.hashKV()).hash).not.toBe(a.hash);
      expect((await client.hash()).hash).toBeGreaterThan(0);
      await client.defragment();
      expect(await client.alarmList()).toEqual([]);
      expect(await client.alarmDisarmAll()).toEqual([]);
    });

    it('streams a snapshot whose trailing sha256 matches its content', async () => {
      await client.put('snap', 'x'.repeat(10000));
      const parts: Uint8Array[] = [];
      let lastRemaining = -1;
      for await (const chunk of await client.snapshot()) {
        parts.push(chunk.blob);
        lastRemaining = chunk.remainingBytes;
      }
      const file = Buffer.concat(parts);
      expect(lastRemaining).toBe(0);
      expect(file.length).toBeGreaterThan(10_000); // holds the 10 000-byte value
      // etcd appends sha256(db) to the stream, which `etcdctl snapshot restore` verifies.
      const db = file.subarray(0, file.length - 32);
      expect(
        createHash('sha256')
          .update(db)
          .digest()
          .equals(file.subarray(file.length - 32)),
      ).toBe(true);
    });
  });

  describe('KvClient lock and election', () => {
    it('locks, sees the owner key, unlocks', async () => {
      const { ID } = await client.grant(30);
      const held = await client.lock('mylock', ID);
      expect(toText(held.key).startsWith('mylock/')).toBe(true);
      expect((await client.get('mylock/', { prefix: true })).count).toBe(1);
      await client.unlock(held.key);
      expect((await client.get('mylock/', { prefix: true })).count).toBe(0);
    });

    it('campaigns, proclaims, reads the leader and resigns', async () => {
      const { ID } = await client.grant(30);
      const won = await client.campaign('elec', ID, 'p1');
      expect(won.leader).toBeDefined();
      const leader = won.leader ?? {};
      await client.proclaim(leader, 'p2');
      const now = await client.leader('elec');
      expect(toText(now.kv?.value ?? new Uint8Array())).toBe('p2');
      await client.resign(leader);
      await expect(client.leader('elec')).rejects.toThrow('election: no leader');
    });
  });

  describe('KvClient auth', () => {
    it('authenticates, enforces permissions and re-authenticates after the token is invalidated', async () => {
      await client.userAdd('root', 'rootpw');
      await client.userGrantRole('root', 'root');
      await client.userAdd('alice', 'alicepw');
      await client.roleAdd('reader');
      await client.roleGrantPermission('reader', Permission_Type.READ, 'app/', { prefix: true });
      await client.userGrantRole('alice', 'reader');
      await client.put('app/x', '1');
      await client.authEnable();
      const alice = new KvClient({ endpoints: [server.endpoint], username: 'alice', password: 'alicepw' });
      const root = new KvClient({ endpoints: [server.endpoint], username: 'root', password: 'rootpw' });
      const wrong = new KvClient({ endpoints: [server.endpoint], username: 'alice', password: 'nope' });
      try {
        expect(await alice.getValue('app/x')).toBe('1');
        await expect(alice.put('app/x', '2')).rejects.toBeInstanceOf(PermissionDeniedError);
        await expect(wrong.get('app/x')).rejects.toBeInstanceOf(AuthFailedError);
        expect((await root.roleGet('reader')).perm[0]?.permType).toBe(Permission_Type.READ);
        expect((await root.userList()).users.sort()).toEqual(['alice', 'root']);
        // Disabling and re-enabling auth drops every simple token; alice's next call must
        // re-authenticate on "invalid auth token" by itself.
        await root.authDisable();
        await client.authEnable();
        expect(await alice.getValue('app/x')).toBe('1');
        await root.authDisable();
      } finally {
        alice.close();
        root.close();
        wrong.close();
      }
    });
  });
});
