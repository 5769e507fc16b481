// The peer proxy itself (support/proxy.ts), on plain loopback sockets: it forwards bytes both ways, tells
// which process dialed it, and cuts and refuses connections across a partition until the heal.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerNetwork, type PeerProxy } from './support/proxy.js';

/** An echo server standing in for a member's peer listener. */
let echo: Server;
let echoPort: number;
beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((ok) => echo.listen(0, '127.0.0.1', () => ok()));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((ok) => echo.close(() => ok())));

/** Connects to `port`, writes `msg`, resolves with the echo or with 'closed' if the proxy refuses. */
function roundTrip(port: number, msg: string): Promise<string> {
  return new Promise((ok) => {
    const s: Socket = createConnection({ host: '127.0.0.1', port }, () => s.write(msg));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.length >= msg.length) {
        s.destroy();
        ok(got);
      }
    });
    s.on('error', () => {});
    s.on('close', () => ok(got || 'closed'));
  });
}

describe('peer proxy', () => {
  it('forwards, identifies the dialing process, and refuses across a partition until healed', async () => {
    // This test process plays member 0; member 1 is the echo server behind the proxy.
    const net = new PeerNetwork(() => new Map([[process.pid, 0]]));
    const toMember1: PeerProxy = await net.addProxy(1, echoPort);
    await net.addProxy(0, echoPort);
    try {
      expect(await roundTrip(toMember1.port, 'hello')).toBe('hello');
      expect(net.unidentified).toBe(0);

      // An open connection is cut when the partition starts.
      const open = createConnection({ host: '127.0.0.1', port: toMember1.port });
      open.on('error', () => {});
      await new Promise<void>((ok) => open.once('connect', () => ok()));
      await new Promise((ok) => setTimeout(ok, 50));
      expect(toMember1.openLinks).toBe(1);
      const closed = new Promise<void>((ok) => open.once('close', () => ok()));
      net.isolate(1);
      await closed;
      expect(toMember1.openLinks).toBe(0);

      expect(await roundTrip(toMember1.port, 'blocked')).toBe('closed');
      expect(net.refused).toBe(1);
      // Inside one group traffic still flows (member 0 to itself).
      net.partition([[0, 1]]);
      expect(await roundTrip(toMember1.port, 'same-group')).toBe('same-group');

      net.isolate(0);
      expect(await roundTrip(toMember1.port, 'blocked')).toBe('closed');
      net.heal();
      expect(await roundTrip(toMember1.port, 'healed')).toBe('healed');
    } finally {
      await net.close();
    }
  });

  it('blackhole: holds bytes across the partition (old and new connections) and delivers them after the heal', async () => {
    const net = new PeerNetwork(() => new Map([[process.pid, 0]]));
    const toMember1 = await net.addProxy(1, echoPort);
    await net.addProxy(0, echoPort);
    /** A connection through the proxy collecting what comes back. */
    const open = async () => {
      const s = createConnection({ host: '127.0.0.1', port: toMember1.port });
      s.on('error', () => {});
      const got = { text: '', closed: false };
      s.on('data', (d) => (got.text += d));
      s.on('close', () => (got.closed = true));
      await new Promise<void>((ok) => s.once('connect', () => ok()));
      return { s, got };
    };
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 100 && !cond(); i++) await new Promise((ok) => setTimeout(ok, 20));
      return cond();
    };
    try {
      const old = await open();
      old.s.write('a');
      expect(await until(() => old.got.text === 'a')).toBe(true);

      net.isolate(1, 'blackhole');
      old.s.write('b');
      const fresh = await open();
      fresh.s.write('c');
      // Held, not reset: nothing comes back, nothing is closed.
      await new Promise((ok) => setTimeout(ok, 300));
      expect(old.got).toEqual({ text: 'a', closed: false });
      expect(fresh.got).toEqual({ text: '', closed: false });
      expect(net.held).toBe(1);
      expect(net.refused).toBe(0);

      net.heal();
      expect(await until(() => old.got.text === 'ab' && fresh.got.text === 'c')).toBe(true);
      old.s.destroy();
      fresh.s.destroy();
    } finally {
      await net.close();
    }
  });
});
