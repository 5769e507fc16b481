// Cuttable peer network for the partition nemesis: one TCP proxy in front of each member's peer
// listener (members advertise the proxy's URL), and a partition rule on (dialing member, destination
// member). The design is e2e/test/support/proxy.ts's (read its header for why one proxy per destination
// and why the dialer is found through /proc): that file is TypeScript for vitest, this harness is plain
// Node ESM, so the same logic lives here in a smaller form. Linux only.
//
// Modes: 'reset' destroys connections across groups and resets new ones (a rejecting firewall);
// 'blackhole' stops moving bytes on them and holds new ones unforwarded (a pulled cable). heal() lets
// everything flow again.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/** The pid, among `pids`, owning the loopback client socket `:clientPort -> :serverPort`. */
function socketOwner(clientPort, serverPort, pids) {
  const hex = (p) => `:${p.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 10 && cols[1].endsWith(hex(clientPort)) && cols[2].endsWith(hex(serverPort))) {
      inode = cols[9];
      break;
    }
  }
  if (inode === undefined) return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // closed while listing
      }
    }
  }
  return undefined;
}

/** A proxy on 127.0.0.1 in front of member `dest`'s real peer port. */
class PeerProxy {
  constructor(dest, targetPort, network) {
    this.dest = dest;
    this.targetPort = targetPort;
    this.network = network;
    this.links = new Set();
    this.server = createServer({ pauseOnConnect: true }, (c) => this.accept(c));
  }

  listen(port) {
    return new Promise((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = this.server.address().port;
        ok(this);
      });
    });
  }

  accept(client) {
    client.on('error', () => {});
    const from = this.network.identify(client.remotePort ?? 0, this.port);
    const verdict = this.network.verdict(from, this.dest);
    if (verdict === 'reset') {
      this.network.refused++;
      client.destroy();
      return;
    }
    const link = { from, client, upstream: undefined, held: false };
    this.links.add(link);
    client.on('close', () => this.drop(link));
    if (verdict === 'hold') {
      this.network.held++;
      link.held = true; // stays paused and unconnected until the heal
      return;
    }
    this.connect(link);
  }

  connect(link) {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    upstream.on('error', () => {});
    upstream.on('close', () => this.drop(link));
    link.upstream = upstream;
    this.flow(link);
  }

  flow(link) {
    link.held = false;
    link.client.pipe(link.upstream);
    link.upstream.pipe(link.client);
    link.client.resume();
    link.upstream.resume();
  }

  drop(link) {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }

  /** Applies the network's current verdict to every open connection. */
  apply(verdictOf) {
    for (const link of [...this.links]) {
      const v = verdictOf(link.from);
      if (v === 'reset') this.drop(link);
      else if (v === 'hold' && !link.held) {
        link.held = true;
        if (link.upstream) {
          link.client.unpipe(link.upstream);
          link.upstream.unpipe(link.client);
          link.upstream.pause();
        }
        link.client.pause();
      } else if (v === 'pass' && link.held) {
        if (link.upstream) this.flow(link);
        else this.connect(link);
      }
    }
  }

  close() {
    this.apply(() => 'reset');
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

/** The peer network of one cluster: a proxy per member and the current partition. */
export class PeerNetwork {
  /** @param {() => Map<number, number>} members current member processes: pid -> member index */
  constructor(members) {
    this.members = members;
    this.proxies = [];
    this.groups = undefined;
    this.mode = 'reset';
    this.refused = 0;
    this.held = 0;
    this.unidentified = 0;
  }

  /** Starts the proxy in front of member `dest` (real peer port `targetPort`) on `port`. */
  async addProxy(dest, targetPort, port) {
    const p = await new PeerProxy(dest, targetPort, this).listen(port);
    this.proxies.push(p);
    return p;
  }

  identify(clientPort, proxyPort) {
    const members = this.members();
    const pid = socketOwner(clientPort, proxyPort, members.keys());
    if (pid === undefined) {
      this.unidentified++;
      return undefined;
    }
    return members.get(pid);
  }

  verdict(from, dest) {
    if (!this.groups || from === undefined) return 'pass';
    if (this.groups.get(from) === this.groups.get(dest)) return 'pass';
    return this.mode === 'blackhole' ? 'hold' : 'reset';
  }

  /** Peer traffic flows only inside each group of member indexes until heal(). */
  partition(groups, mode = 'reset') {
    const g = new Map();
    groups.forEach((members, n) => {
      for (const m of members) g.set(m, n);
    });
    for (const p of this.proxies) if (!g.has(p.dest)) g.set(p.dest, -1 - p.dest);
    this.groups = g;
    this.mode = mode;
    for (const p of this.proxies) p.apply((from) => this.verdict(from, p.dest));
  }

  heal() {
    this.groups = undefined;
    for (const p of this.proxies) p.apply(() => 'pass');
  }

  async close() {
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}
