/**
 * A held ClientListener (a member's client port, bound at startup and served once the member is
 * ready): connections made meanwhile are served with what they sent before, a client that gives up
 * is closed rather than left half-open until then, and no more than the backlog's worth are kept.
 * Real loopback sockets, a real http.Server behind the listener.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientListener } from '../src/transport/cmux.js';
import { rawGet, sleep } from './helpers.js';

const listeners: ClientListener[] = [];
afterEach(async () => {
  for (const l of listeners.splice(0)) {
    l.destroyAll();
    await l.close(0);
  }
});

async function heldListener(): Promise<{ listener: ClientListener; port: number }> {
  const server = http.createServer((req, res) => res.end(`served ${req.url}`));
  const listener = new ClientListener({ http: server });
  listeners.push(listener);
  listener.hold();
  return { listener, port: await listener.listen(0, '127.0.0.1') };
}

describe('a held client listener', () => {
  it('serves a request sent while held, once serve() is called', async () => {
    const { listener, port } = await heldListener();
    const c = rawGet(port, '/early');
    await sleep(200);
    expect(c.text()).toBe('');
    listener.serve();
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(c.text()).toContain('served /early');
    // Later connections are served at once.
    const late = rawGet(port, '/late');
    await late.closed;
    expect(late.text()).toContain('served /late');
  });

  it('closes a held connection whose client gives up, instead of keeping it until serve()', async () => {
    const { port } = await heldListener();
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    await new Promise((ok) => sock.once('connect', ok));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.end();
    // The server side sees the FIN and closes too: the client's socket closes fully.
    const closed = await Promise.race([
      new Promise<boolean>((ok) => sock.once('close', () => ok(true))),
      sleep(5000).then(() => false),
    ]);
    expect(closed).toBe(true);
  });

  it('keeps at most 511 connections while held and closes the rest', async () => {
    const { listener, port } = await heldListener();
    const socks: net.Socket[] = [];
    const closedEarly: number[] = [];
    for (let i = 0; i < 520; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedEarly.push(i));
      socks.push(s);
    }
    await Promise.all(socks.map((s) => new Promise((ok) => (s.connecting ? s.once('connect', ok) : ok(0)))));
    const deadline = Date.now() + 5000;
    while (closedEarly.length < 9 && Date.now() < deadline) await sleep(20);
    expect(closedEarly.length).toBe(9);
    listener.serve();
    for (const s of socks) s.destroy();
  });
});
