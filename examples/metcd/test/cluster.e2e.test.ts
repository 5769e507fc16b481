// metcd end to end: real member processes on loopback, real WALs and engines in temp directories,
// SIGKILL for crashes. What is checked is what a user of a replicated service relies on: writes continue
// while a majority is up, a crashed member catches up (from the log, or from a snapshot once the log it
// needs was compacted), every member ends with the same values, and membership can change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agreedLeader, changeMembership, converged, Member, put, waitFor } from './support/member.js';

// Ticks of 100 ms (elections after 1-2 s) keep a loaded 2-core machine from electing spuriously while a
// leader waits on a slow fsync; a 3 s proposal timeout makes the test's retries come sooner.
const FLAGS = ['--proposal-timeout-ms', '3000'];

let members: Member[] = [];
let root = '';

async function startCluster(n: number, flags: string[]): Promise<Member[]> {
  root = mkdtempSync(join(tmpdir(), 'metcd-e2e-'));
  members = [];
  for (let id = 1; id <= n; id++) members.push(await Member.create(id, root));
  for (const m of members) m.start(members, flags);
  await agreedLeader(members);
  return members;
}

afterEach(async () => {
  await Promise.all(members.map((m) => m.kill('SIGKILL')));
  if (root) rmSync(root, { recursive: true, force: true });
  root = '';
});

/** Writes `count` keys `prefix-i` round-robin through `via`, recording them in `expected`. */
async function writeKeys(via: Member[], prefix: string, count: number, expected: Map<string, string>) {
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    const value = `${prefix}-value-${i}`;
    await put(via[i % via.length]!, key, value);
    expected.set(key, value);
  }
}

describe.each(['leveldb', 'memory', 'lmdb'])('engine %s', (engine) => {
  it('serves writes with the leader SIGKILLed; the restarted member catches up from the log', async () => {
    const flags = [...FLAGS, '--engine', engine];
    const cluster = await startCluster(3, flags);
    const expected = new Map<string, string>();
    await writeKeys(cluster, 'before', 10, expected);
    await converged(cluster, expected);

    const leaderId = await agreedLeader(cluster);
    const victim = cluster.find((m) => m.id === leaderId)!;
    await victim.kill('SIGKILL');
    const survivors = cluster.filter((m) => m !== victim);
    await writeKeys(survivors, 'during', 20, expected);
    await converged(survivors, expected);
    expect(await victim.get('during-0').catch(() => 'unreachable')).toBe('unreachable');

    victim.start(cluster, flags);
    const answers = await converged(cluster, expected);
    expect([...answers.values()].map((v) => [...v.values()])).toEqual([
      [...expected.values()],
      [...expected.values()],
      [...expected.values()],
    ]);
    // Nothing was compacted (default --snapshot-count), so the leader sent entries, not a snapshot.
    expect((await victim.status()).snapshotsInstalled).toBe(0);

    // All three crash at once; what was acknowledged survives (WAL + engine / snapshot on restart).
    await Promise.all(cluster.map((m) => m.kill('SIGKILL')));
    for (const m of cluster) m.start(cluster, flags);
    await agreedLeader(cluster);
    await converged(cluster, expected);
    await writeKeys(cluster, 'after', 5, expected);
    await converged(cluster, expected);
  });
});

describe('HTTP API', () => {
  it('a linearizable read on any member sees a write acknowledged by another one', async () => {
    const cluster = await startCluster(3, [...FLAGS, '--engine', 'memory']);
    for (let i = 0; i < 10; i++) {
      const writer = cluster[i % 3]!;
      const reader = cluster[(i + 1) % 3]!;
      await put(writer, 'counter', String(i));
      // No polling: the read must reflect the acknowledged write at once.
      expect(await reader.getLinearizable('counter')).toBe(String(i));
    }
    expect(await cluster[0]!.getLinearizable('never-written')).toBeUndefined();
  });

  it('refuses malformed requests with 4xx', async () => {
    const [m] = await startCluster(1, [...FLAGS, '--engine', 'memory']);
    expect(await m!.request('GET', '/%E0%A4%A')).toBe(400);
    expect(await m!.request('PUT', '/status', 'x')).toBe(405);
    expect(await m!.request('POST', '/member/0', 'http://127.0.0.1:1')).toBe(400);
    expect(await m!.request('POST', '/member/9', 'not a url')).toBe(400);
    expect(await m!.request('DELETE', '/member/9')).toBe(409);
    expect(await m!.request('PATCH', '/key')).toBe(405);
    expect(await m!.request('GET', '/')).toBe(400);
    // The peer endpoint refuses what is not a frame of raft messages.
    const peer = await fetch(`${m!.peerUrl}/raft`, { method: 'POST', body: new Uint8Array([0, 0, 0, 9, 1]) });
    expect(peer.status).toBe(400);
    // A single-member cluster still serves.
    await put(m!, 'k', 'v');
    expect(await m!.getLinearizable('k')).toBe('v');
  });
});

describe.each(['leveldb', 'memory'])('log compaction, engine %s', (engine) => {
  it('a member that missed compacted entries catches up by snapshot; all restart from snapshots', async () => {
    const flags = [...FLAGS, '--engine', engine, '--snapshot-count', '20', '--snapshot-catchup', '5'];
    const cluster = await startCluster(3, flags);
    const expected = new Map<string, string>();
    await writeKeys(cluster, 'a', 10, expected);
    await converged(cluster, expected);

    const leaderId = await agreedLeader(cluster);
    const victim = cluster.find((m) => m.id !== leaderId)!;
    await victim.kill('SIGKILL');
    const survivors = cluster.filter((m) => m !== victim);
    await writeKeys(survivors, 'b', 60, expected);
    await converged(survivors, expected);
    // The leader's log no longer starts where the victim's ends: only a snapshot can bring it back.
    const leader = survivors.find((m) => m.id === leaderId)!;
    const leaderStatus = await leader.status();
    expect(leaderStatus.snapshotsTaken).toBeGreaterThan(1);
    expect(leaderStatus.firstLogIndex).toBeGreaterThan(20);

    victim.start(cluster, flags);
    await converged(cluster, expected);
    const after = await victim.status();
    expect(after.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    expect(after.snapshotIndex).toBeGreaterThanOrEqual(leaderStatus.snapshotIndex);

    // Writes through the caught-up member reach everyone.
    await writeKeys([victim], 'c', 5, expected);
    await converged(cluster, expected);

    // Every member now restarts from its newest snapshot plus the WAL after it (the memory engine is
    // rebuilt from the snapshot; a LevelDB engine already holds it and skips what it applied).
    await Promise.all(cluster.map((m) => m.kill('SIGKILL')));
    for (const m of cluster) m.start(cluster, flags);
    await agreedLeader(cluster);
    await converged(cluster, expected);
    for (const m of cluster) expect((await m.status()).snapshotIndex).toBeGreaterThan(20);
  });
});

describe('membership', () => {
  it('adds a 4th member that catches up, then removes the leader, which shuts down', async () => {
    const flags = [...FLAGS, '--engine', 'leveldb'];
    const cluster = await startCluster(3, flags);
    const expected = new Map<string, string>();
    await writeKeys(cluster, 'three', 10, expected);

    const fourth = await Member.create(4, root);
    await changeMembership(cluster[0]!, 'POST', 4, fourth.peerUrl);
    // Adding it twice is refused (by a member that has applied the first add: the check is made against
    // the applied member list of the member that receives the request).
    expect(await cluster[0]!.request('POST', '/member/4', fourth.peerUrl)).toBe(409);
    members.push(fourth);
    fourth.start(members, [...flags, '--join']);
    await converged(members, expected);
    await writeKeys([fourth], 'four', 10, expected);
    await converged(members, expected);
    for (const m of members) expect((await m.status()).voters).toEqual(['1', '2', '3', '4']);

    const leaderId = await agreedLeader(members);
    const leader = members.find((m) => m.id === leaderId)!;
    const others = members.filter((m) => m !== leader);
    await changeMembership(others[0]!, 'DELETE', leaderId);
    expect(await leader.exited()).toBe(0);
    await writeKeys(others, 'after-removal', 10, expected);
    await converged(others, expected);
    const remaining = others.map((m) => String(m.id));
    await waitFor('every member to see the removal', async () => {
      const voters = await Promise.all(others.map(async (m) => (await m.status()).voters));
      return voters.every((v) => JSON.stringify(v) === JSON.stringify(remaining)) ? true : undefined;
    });
    expect(await others[0]!.request('DELETE', `/member/${leaderId}`)).toBe(409);
  });
});
