// Exact 64-bit lease ids on a real server process: a client-chosen id above 2^53 round-trips through the
// JSON gateway (curl with a bare JSON number), kvctl and etcdctl; generated ids follow etcd's layout
// (member id's low 16 bits, start time in ms, counter) and stay unique across a restart.
// KV_E2E_TARGET=etcd runs the same against Debian's etcd 3.4.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { etcdctl, REPO_ROOT, run, ServerProcess } from './support/server.js';

const kvctlBin = join(REPO_ROOT, 'bin', 'kvctl');
/** The id of issue #12: 3182763892645462267 and 3182763892645462268 are the same JS number. */
const ID = 3182763892645462267n;
const HEX = ID.toString(16).padStart(16, '0');

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.destroy();
  server = undefined;
});

/** POSTs raw JSON text with curl; returns the raw response text (JSON.parse would round the ids). */
async function curl(path: string, body: string): Promise<string> {
  const r = await run('curl', ['-s', '-X', 'POST', `${server!.endpoint}${path}`, '-d', body]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const kvctl = (args: string[]) => run(kvctlBin, [`--endpoints=${server!.endpoint}`, ...args]);

describe('exact lease ids', () => {
  it('a client-chosen id above 2^53 round-trips through the gateway, kvctl and etcdctl', async () => {
    server = await ServerProcess.start();
    // grpc-gateway reads a bare JSON number exactly; so must kv.
    const granted = await curl('/v3/lease/grant', `{"TTL": 60, "ID": ${ID}}`);
    expect(granted).toContain(`"ID":"${ID}"`);
    // Its neighbour is a different lease, not a duplicate.
    expect(await curl('/v3/lease/grant', `{"TTL": 60, "ID": "${ID + 1n}"}`)).toContain(`"ID":"${ID + 1n}"`);

    for (const [tool, key] of [
      ['kvctl', 'k1'],
      ['etcdctl', 'k2'],
    ] as const) {
      const args = ['put', key, 'v', `--lease=${HEX}`];
      const put = tool === 'kvctl' ? await kvctl(args) : await etcdctl(server.endpoint, args);
      expect(put.stdout.trim(), put.stderr).toBe('OK');
    }
    for (const r of [
      await kvctl(['get', 'k1', '-w', 'json']),
      await etcdctl(server.endpoint, ['get', 'k1', '-w', 'json']),
    ]) {
      expect(r.stdout).toMatch(new RegExp(`"lease":${ID}[,}]`)); // a bare int64, as Go's encoding/json writes it
    }
    const range = await curl('/v3/kv/range', `{"key": "${Buffer.from('k2').toString('base64')}"}`);
    expect(range).toContain(`"lease":"${ID}"`);

    const ttlLine = new RegExp(
      `^lease ${HEX} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[(k1 k2|k2 k1)\\]\\)$`,
    );
    expect((await kvctl(['lease', 'timetolive', HEX, '--keys'])).stdout.trim()).toMatch(ttlLine);
    expect((await etcdctl(server.endpoint, ['lease', 'timetolive', HEX, '--keys'])).stdout.trim()).toMatch(
      ttlLine,
    );
    const ttlJson = await kvctl(['lease', 'timetolive', HEX, '-w', 'json']);
    expect(ttlJson.stdout).toContain(`"id":${ID},`);
    expect(await curl('/v3/lease/timetolive', `{"ID": ${ID}}`)).toContain(`"ID":"${ID}"`);

    const listed = (await kvctl(['lease', 'list'])).stdout.trim().split('\n');
    expect(listed.slice(1).sort()).toEqual([HEX, (ID + 1n).toString(16).padStart(16, '0')]);
    expect((await etcdctl(server.endpoint, ['lease', 'list'])).stdout.trim().split('\n').sort()).toEqual(
      [...listed].sort(),
    );
    expect((await kvctl(['lease', 'list', '-w', 'json'])).stdout).toContain(`{"id":${ID}}`);
    expect(await curl('/v3/lease/leases', '{}')).toContain(`"ID":"${ID}"`);

    expect((await kvctl(['lease', 'revoke', HEX])).stdout.trim()).toBe(`lease ${HEX} revoked`);
    expect((await kvctl(['get', 'k', '--prefix', '--count-only', '-w', 'json'])).stdout).not.toContain(
      '"count"',
    );
    // The neighbour is untouched.
    expect(await curl('/v3/lease/timetolive', `{"ID": "${ID + 1n}"}`)).toMatch(/"TTL":"[1-9]\d*"/);
  });

  it('generated ids follow etcd’s layout and stay unique across a restart', async () => {
    server = await ServerProcess.start();
    const status = await etcdctl(server.endpoint, ['endpoint', 'status', '-w', 'json']);
    const memberId = BigInt(/"member_id":(\d+)/.exec(status.stdout)![1]!);
    const grant = async () => {
      const r = await kvctl(['lease', 'grant', '60']);
      const m = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)$/.exec(r.stdout.trim());
      expect(m, r.stdout + r.stderr).not.toBeNull();
      return BigInt(`0x${m![1]}`);
    };
    const ids: bigint[] = [];
    for (let i = 0; i < 3; i++) ids.push(await grant());
    await server.restart();
    for (let i = 0; i < 3; i++) ids.push(await grant());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      // High 16 bits: the member id's low 16 (bit 63 masked off: lease ids are positive int64s), so
      // above 2^53 for all but 32 of the 65536 possible member ids.
      expect(id >> 48n).toBe(memberId & 0x7fffn);
    }
    // Within one process the counter only counts up (etcd's Generator.Next; request ids take some too).
    expect(ids[1]! - ids[0]!).toBeGreaterThan(0n);
    // After the restart the 40-bit millisecond timestamp is later, so the ids are larger.
    expect(ids[3]!).toBeGreaterThan(ids[2]!);
  });
});
