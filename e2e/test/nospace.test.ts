// The NOSPACE alarm driven by Debian's etcdctl against a real kv-server process with a tiny
// --quota-backend-bytes. Runs unchanged against etcd 3.4.23 (KV_E2E_TARGET=etcd), which is where the
// expected outputs come from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess } from './support/server.js';

const QUOTA = 100_000; // etcd's empty bolt file is 20 KiB, so this leaves room for ~25 keys below
const NO_SPACE = 'etcdserver: mvcc: database space exceeded';
const VALUE = 'v'.repeat(3000);

describe('NOSPACE alarm with etcdctl', () => {
  let s: ServerProcess;
  let memberId: string;
  const ctl = (...args: string[]) => etcdctl(s.endpoint, args);
  const ctlIn = (input: string, ...args: string[]) => etcdctl(s.endpoint, args, input);

  beforeAll(async () => {
    s = await ServerProcess.start({ flags: ['--quota-backend-bytes', String(QUOTA)] });
    // Read the id from the raw JSON: etcd's 64-bit ids do not survive JSON.parse.
    const st = await ctl('endpoint', 'status', '-w', 'json');
    memberId = /"member_id":(\d+)/.exec(st.stdout)?.[1] ?? '';
    expect(memberId).not.toBe('');
  });
  afterAll(async () => {
    await s?.destroy();
  });

  it('fails the put that would exceed the quota and raises the alarm', async () => {
    const lease = await ctl('lease', 'grant', '600');
    expect(lease.code).toBe(0);
    let failed: Awaited<ReturnType<typeof ctl>> | undefined;
    let ok = 0;
    for (let i = 0; i < 100 && !failed; i++) {
      const r = await ctl('put', `fill/${String(i).padStart(3, '0')}`, VALUE);
      if (r.code === 0) ok++;
      else failed = r;
    }
    expect(ok).toBeGreaterThan(5);
    expect(failed?.stderr).toContain(`Error: ${NO_SPACE}`);
    expect(failed?.stderr).toContain('code = ResourceExhausted');
    const list = await ctl('alarm', 'list');
    expect(list.stdout).toBe(`memberID:${memberId} alarm:NOSPACE \n`);
    const st = await ctl('endpoint', 'status', '-w', 'json');
    expect(st.stdout).toContain(`"errors":["memberID:${memberId} alarm:NOSPACE "]`);
    // An active alarm makes the member unhealthy for load balancers.
    const health = await fetch(`${s.endpoint}/health`);
    expect([health.status, JSON.parse(await health.text())]).toEqual([503, { health: 'false' }]);
    // etcdctl's health check is a read, which NOSPACE does not block.
    expect((await ctl('endpoint', 'health')).code).toBe(0);
  });

  it('refuses writes that grow the store, serves reads and deletes', async () => {
    expect((await ctl('put', 'small', '1')).stderr).toContain(`Error: ${NO_SPACE}`);
    expect((await ctl('lease', 'grant', '60')).stderr).toContain(
      `Error: failed to grant lease (${NO_SPACE})`,
    );
    expect((await ctlIn('\nput t 1\n\n\n', 'txn')).stderr).toContain(`Error: ${NO_SPACE}`);
    const get = await ctl('get', 'fill/000', '--print-value-only');
    expect(get.stdout).toBe(`${VALUE}\n`);
    const roTxn = await ctlIn('\nget fill/001 --keys-only\n\n\n', 'txn');
    expect(roTxn.stdout).toBe('SUCCESS\n\nfill/001\n\n');
    const delTxn = await ctlIn('\ndel fill/001\n\n\n', 'txn');
    expect(delTxn.stdout).toBe('SUCCESS\n\n1\n');
    expect((await ctl('del', 'fill/002')).stdout).toBe('1\n');
  });

  it('a disarm while still over quota lets the next big put fail and re-raise the alarm', async () => {
    const disarm = await ctl('alarm', 'disarm');
    expect(disarm.stdout).toBe(`memberID:${memberId} alarm:NOSPACE \n`);
    expect((await ctl('alarm', 'list')).stdout).toBe('');
    const big = await ctl('put', 'big', 'b'.repeat(30_000));
    expect(big.stderr).toContain(`Error: ${NO_SPACE}`);
    expect((await ctl('alarm', 'list')).stdout).toBe(`memberID:${memberId} alarm:NOSPACE \n`);
  });

  it('keeps the alarm across a restart', async () => {
    await s.restart();
    expect((await ctl('alarm', 'list')).stdout).toBe(`memberID:${memberId} alarm:NOSPACE \n`);
    expect((await ctl('put', 'small', '1')).stderr).toContain(`Error: ${NO_SPACE}`);
  });

  it('works again after delete + compact + defrag + disarm', async () => {
    expect((await ctl('del', 'fill/', '--prefix')).code).toBe(0);
    const st = await ctl('endpoint', 'status', '-w', 'json');
    const rev = /"revision":(\d+)/.exec(st.stdout)?.[1];
    expect((await ctl('compact', String(rev))).stdout).toBe(`compacted revision ${rev}\n`);
    expect((await ctl('defrag')).stdout).toBe(`Finished defragmenting etcd member[${s.endpoint}]\n`);
    // Space is free, but the alarm still caps writes until an operator disarms it.
    expect((await ctl('put', 'small', '1')).stderr).toContain(`Error: ${NO_SPACE}`);
    expect((await ctl('alarm', 'disarm')).stdout).toBe(`memberID:${memberId} alarm:NOSPACE \n`);
    expect((await ctl('put', 'small', '1')).stdout).toBe('OK\n');
    expect((await ctl('lease', 'grant', '60')).code).toBe(0);
    expect((await ctl('alarm', 'list')).stdout).toBe('');
    expect((await ctl('alarm', 'disarm')).stdout).toBe('');
    const health = await fetch(`${s.endpoint}/health`);
    expect([health.status, JSON.parse(await health.text())]).toEqual([200, { health: 'true' }]);
  });
});
