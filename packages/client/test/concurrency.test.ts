/**
 * The client-side recipes against kv-server and etcd: sessions (own lease, keep-alive, `done` when
 * lost), Mutex (queueing, fencing revision, abort clean-up), Election (campaign, proclaim, resign,
 * leader, observe) and STM at each of clientv3's isolation levels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  ElectionNoLeaderError,
  ElectionNotLeaderError,
  Isolation,
  type IsolationLevel,
  type KvClient,
  Op,
  SessionExpiredError,
  toText,
} from '../src/index.js';
import { eventually, SERVER_KINDS, sleep, startServer, type TestServer } from './servers.js';

describe.each(SERVER_KINDS)('concurrency recipes against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
  });
  afterAll(() => server?.destroy());

  describe('Session', () => {
    it('keeps its own lease alive past the TTL and revokes it on close', async () => {
      const session = await client.session({ ttl: 1 });
      await client.put('sess/key', 'v', { lease: session.lease });
      await sleep(2200);
      expect(session.isDone).toBe(false);
      expect((await client.get('sess/key')).count).toBe(1);
      await session.close();
      expect(await session.done).toBeUndefined();
      expect((await client.get('sess/key')).count).toBe(0);
    });

    it('resolves `done` with SessionExpiredError when its lease is revoked elsewhere', async () => {
      const session = await client.session({ ttl: 2 });
      await client.revoke(session.lease);
      expect(await session.done).toBeInstanceOf(SessionExpiredError);
      expect(session.isDone).toBe(true);
    });

    it('adopts an existing lease and refuses one that does not exist', async () => {
      const { ID } = await client.grant(30);
      const session = await client.session({ lease: ID });
      expect(session.lease).toBe(ID);
      expect(session.ttl).toBe(30);
      await session.close();
      expect((await client.timeToLive(ID)).TTL).toBe(-1);
      await expect(client.session({ lease: ID })).rejects.toBeInstanceOf(SessionExpiredError);
    });

    it('resolves `done` with SessionExpiredError when it cannot renew for a whole TTL', async () => {
      const session = await client.session({ ttl: 2 });
      await server.stop();
      try {
        // No server to renew with: the lease expires on its own, and the session says so.
        expect(await session.done).toBeInstanceOf(SessionExpiredError);
      } finally {
        await server.start();
      }
    });
  });

  describe('Mutex', () => {
    it('serialises holders in arrival order with growing fencing revisions', async () => {
      const s1 = await client.session({ ttl: 10 });
      const s2 = await client.session({ ttl: 10 });
      const s3 = await client.session({ ttl: 10 });
      const m1 = s1.mutex('mx/a');
      const m2 = s2.mutex('mx/a');
      const m3 = s3.mutex('mx/a');
      const order: string[] = [];
      const first = await m1.lock();
      order.push('m1');
      const second = m2.lock().then((o) => {
        order.push('m2');
        return o;
      });
      await eventually(async () => (await client.get('mx/a/').prefix().count()) === 2);
      const third = m3.lock().then((o) => {
        order.push('m3');
        return o;
      });
      await eventually(async () => (await client.get('mx/a/').prefix().count()) === 3);
      expect(order).toEqual(['m1']);
      // The owner's guard holds while it owns the lock, and no longer once it let go.
      const guarded = () => client.txn().if(m1.isOwner()).then(Op.put('mx/fenced', '1')).commit();
      expect((await guarded()).succeeded).toBe(true);
      const guard = m1.isOwner();
      await m1.unlock();
      expect((await client.txn().if(guard).then(Op.put('mx/fenced', '2')).commit()).succeeded).toBe(false);
      const o2 = await second;
      await m2.unlock();
      const o3 = await third;
      expect(order).toEqual(['m1', 'm2', 'm3']);
      expect(o2.revision).toBeGreaterThan(first.revision);
      expect(o3.revision).toBeGreaterThan(o2.revision);
      expect(toText(o3.key)).toBe(`mx/a/${s3.lease.toString(16)}`);
      await m3.unlock();
      await Promise.all([s1.close(), s2.close(), s3.close()]);
    });

    it('passes the lock on when the holder session is lost', async () => {
      const holder = await client.session({ ttl: 10 });
      const waiter = await client.session({ ttl: 10 });
      await holder.mutex('mx/b').lock();
      const pending = waiter.mutex('mx/b').lock();
      await eventually(async () => (await client.get('mx/b/').prefix().count()) === 2);
      await client.revoke(holder.lease);
      expect((await pending).revision).toBeGreaterThan(0);
      await waiter.close();
    });

    it('an aborted lock attempt rejects and leaves no key behind', async () => {
      const holder = await client.session({ ttl: 10 });
      const waiter = await client.session({ ttl: 10 });
      const m = holder.mutex('mx/c');
      await m.lock();
      const ac = new AbortController();
      const pending = waiter.mutex('mx/c').lock({ signal: ac.signal });
      await eventually(async () => (await client.get('mx/c/').prefix().count()) === 2);
      ac.abort();
      expect(await pending.catch((e: unknown) => e)).toBeInstanceOf(AbortedError);
      expect(await client.get('mx/c/').prefix().keys()).toEqual([`mx/c/${holder.lease.toString(16)}`]);
      await m.unlock();
      await Promise.all([holder.close(), waiter.close()]);
    });

    it('withLock runs the function under the lock and releases it', async () => {
      const seen = await client.withLock('mx/d', async (fencing) => {
        expect(await client.get('mx/d/').prefix().count()).toBe(1);
        return fencing;
      });
      expect(seen).toBeGreaterThan(0);
      expect(await client.get('mx/d/').prefix().count()).toBe(0);
    });
  });

  describe('Election', () => {
    it('campaigns, proclaims, reports the leader, hands over on resign, and is observable', async () => {
      const s1 = await client.session({ ttl: 10 });
      const s2 = await client.session({ ttl: 10 });
      const e1 = s1.election('el/a');
      const e2 = s2.election('el/a');
      await expect(e1.leader()).rejects.toBeInstanceOf(ElectionNoLeaderError);
      const ac = new AbortController();
      const observed: string[] = [];
      const observing = (async () => {
        try {
          for await (const kv of e1.observe({ signal: ac.signal })) observed.push(toText(kv.value));
        } catch (e) {
          if (!(e instanceof AbortedError)) throw e;
        }
      })();
      await e1.campaign('n1');
      expect(toText((await e2.leader()).value)).toBe('n1');
      let e2Leads = false;
      const second = e2.campaign('n2').then(() => {
        e2Leads = true;
      });
      await eventually(async () => (await client.get('el/a/').prefix().count()) === 2);
      await e1.proclaim('n1-again');
      expect(toText((await e2.leader()).value)).toBe('n1-again');
      await expect(s2.election('el/a').proclaim('usurp')).rejects.toBeInstanceOf(ElectionNotLeaderError);
      expect(e2Leads).toBe(false);
      await e1.resign();
      await second;
      expect(toText((await e1.leader()).value)).toBe('n2');
      expect(await eventually(() => observed.length >= 3)).toBe(true);
      expect(observed).toEqual(['n1', 'n1-again', 'n2']);
      ac.abort();
      await observing;
      await e2.resign();
      await Promise.all([s1.close(), s2.close()]);
    });
  });

  describe('STM', () => {
    /** Moves 1 from a to b, `n` times concurrently: conflicting attempts must retry. */
    async function transfers(iso: IsolationLevel, n: number): Promise<[number, number]> {
      const pfx = `stm/${iso}/`;
      await client.put(`${pfx}a`, '100');
      await client.put(`${pfx}b`, '0');
      await Promise.all(
        Array.from({ length: n }, () =>
          client.stm(
            async (stm) => {
              const a = Number(await stm.get(`${pfx}a`));
              const b = Number(await stm.get(`${pfx}b`));
              stm.put(`${pfx}a`, String(a - 1));
              stm.put(`${pfx}b`, String(b + 1));
            },
            { isolation: iso },
          ),
        ),
      );
      const vals = await client.get(pfx).prefix().strings();
      return [Number(vals[`${pfx}a`]), Number(vals[`${pfx}b`])];
    }

    it.each([Isolation.SerializableSnapshot, Isolation.Serializable, Isolation.RepeatableReads])(
      '%s: concurrent read-modify-write transactions lose no update',
      async (iso) => {
        expect(await transfers(iso, 8)).toEqual([92, 8]);
      },
    );

    it('read-committed commits without conflict checks (updates can be lost)', async () => {
      const [a, b] = await transfers(Isolation.ReadCommitted, 8);
      // Each get reads the latest committed value on its own, so a transfer may read `a` before and `b`
      // after another transfer committed: lost updates, and even a + b != 100, are allowed. Every
      // transfer still wrote a consistent pair from what it read.
      expect(a).toBeGreaterThanOrEqual(92);
      expect(a).toBeLessThanOrEqual(99);
      expect(b).toBeGreaterThanOrEqual(1);
      expect(b).toBeLessThanOrEqual(8);
    });

    /**
     * One STM that reads `p`, then (first attempt only) lets another client change `q` and `w`, then
     * reads `q` and blindly writes `w`. Returns what each attempt read of `q`.
     */
    async function interleaved(iso: IsolationLevel): Promise<string[]> {
      const pfx = `iso/${iso}/`;
      await client.put(`${pfx}p`, 'p0');
      await client.put(`${pfx}q`, 'q0');
      await client.put(`${pfx}w`, 'w0');
      const readsOfQ: string[] = [];
      await client.stm(
        async (stm) => {
          await stm.get(`${pfx}p`);
          if (readsOfQ.length === 0) {
            await client.put(`${pfx}q`, 'q1');
            await client.put(`${pfx}w`, 'w1');
          }
          readsOfQ.push(await stm.get(`${pfx}q`));
          stm.put(`${pfx}w`, 'from-stm');
        },
        { isolation: iso },
      );
      expect(await client.get(`${pfx}w`).string()).toBe('from-stm');
      return readsOfQ;
    }

    it('isolation levels differ exactly as in clientv3', async () => {
      // Snapshot reads at the first read's revision see the old q; the commit then fails on the
      // changed q (and, for the snapshot level, on the blind write to w) and the retry sees q1.
      expect(await interleaved(Isolation.SerializableSnapshot)).toEqual(['q0', 'q1']);
      expect(await interleaved(Isolation.Serializable)).toEqual(['q0', 'q1']);
      // Repeatable reads read each key at its first access: q1 at once, and the read set is unchanged.
      expect(await interleaved(Isolation.RepeatableReads)).toEqual(['q1']);
      expect(await interleaved(Isolation.ReadCommitted)).toEqual(['q1']);
    });

    it('only serializable-snapshot retries when a blindly written key changed', async () => {
      async function attempts(iso: IsolationLevel): Promise<number> {
        const pfx = `blind/${iso}/`;
        await client.put(`${pfx}r`, 'r0');
        let n = 0;
        await client.stm(
          async (stm) => {
            n++;
            await stm.get(`${pfx}r`);
            if (n === 1) await client.put(`${pfx}w`, 'other');
            stm.put(`${pfx}w`, 'mine');
          },
          { isolation: iso },
        );
        return n;
      }
      expect(await attempts(Isolation.SerializableSnapshot)).toBe(2);
      expect(await attempts(Isolation.Serializable)).toBe(1);
    });

    it('an error thrown by apply aborts the STM without writing', async () => {
      await expect(
        client.stm(async (stm) => {
          stm.put('stm/never', 'x');
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect((await client.get('stm/never')).count).toBe(0);
    });
  });
});
