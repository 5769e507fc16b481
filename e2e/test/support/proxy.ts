// TCP proxies for peer traffic, so a test can cut the network between cluster members on one machine.
//
// Design. Every member must list the SAME --initial-cluster URLs (member and cluster ids are hashes of
// them), so a proxy cannot be chosen per directed pair by URL. Instead there is one proxy per
// destination member: member j advertises `http://127.0.0.1:<proxy j>` and the proxy forwards to j's real
// peer listener. Blocking only the proxy in front of j would not isolate j: etcd's rafthttp carries
// messages for j over stream connections that j itself dials to the other members, and j falls back to
// `POST /raft` towards them. So each proxy also learns WHO dialed it: on accept it looks up the client end
// of the loopback connection in /proc/net/tcp, takes its socket inode and finds the member process holding
// that inode in /proc/<pid>/fd. A partition is then a rule on (source member, destination member), in both
// directions, whatever the payload (plain HTTP or TLS), in one of two modes:
// - 'reset': connections across groups are destroyed when the partition starts and new ones are accepted
//   then reset while it lasts (peers see errors at once, like a rejecting firewall);
// - 'blackhole': connections across groups stop moving bytes (the proxy stops reading both sides, so the
//   kernel buffers fill and writers stall) and new ones are accepted but never forwarded (peers see only
//   silence and must time out, like a cable pulled). On heal the held bytes flow again, as TCP would
//   deliver them after the network came back.
// Linux only, like the rest of e2e.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Finds, among `pids`, the process that owns the client socket `127.0.0.1:clientPort -> :serverPort`. */
export function socketOwner(
  clientPort: number,
  serverPort: number,
  pids: Iterable<number>,
): number | undefined {
  const inode = clientSocketInode(clientPort, serverPort);
  if (inode === undefined) return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // the descriptor was closed while we listed them
      }
    }
  }
  return undefined;
}

/** The inode of the IPv4 socket whose local port is `localPort` and remote port is `remotePort`. */
function clientSocketInode(localPort: number, remotePort: number): string | undefined {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const want = `:${hexPort(localPort)}`;
  const wantRemote = `:${hexPort(remotePort)}`;
  // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    if (cols[1].endsWith(want) && cols[2].endsWith(wantRemote)) return cols[9];
  }
  return undefined;
}

/** What the proxy does with a connection across a partition. */
export type PartitionMode = 'reset' | 'blackhole';

/** The proxy's decision for one connection: forward it, reset it, or hold it silently. */
type Verdict = 'pass' | 'reset' | 'hold';

/** One proxied connection and the member that dialed it (undefined when it could not be identified). */
interface Link {
  from: number | undefined;
  client: Socket;
  /** The connection to the member; undefined while a new connection is held by a blackhole. */
  upstream: Socket | undefined;
  /** Whether bytes are stopped (blackhole). */
  held: boolean;
}

/** A TCP proxy on 127.0.0.1 in front of one member's peer listener. */
export class PeerProxy {
  private readonly links = new Set<Link>();

  private constructor(
    /** Index of the member this proxy forwards to. */
    readonly dest: number,
    /** The port members dial (the member's advertised peer port). */
    readonly port: number,
    /** The member's real peer listener. */
    readonly targetPort: number,
    private readonly server: Server,
  ) {}

  /** Listens on a free port and forwards each connection to `targetPort` as `network` decides. */
  static async listen(dest: number, targetPort: number, network: PeerNetwork): Promise<PeerProxy> {
    const server = createServer({ pauseOnConnect: true });
    const port = await new Promise<number>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const a = server.address();
        if (typeof a === 'object' && a) ok(a.port);
        else fail(new Error('proxy: no address'));
      });
    });
    const proxy = new PeerProxy(dest, port, targetPort, server);
    server.on('connection', (client) => proxy.accept(client, network));
    return proxy;
  }

  private accept(client: Socket, network: PeerNetwork): void {
    client.on('error', () => {});
    const from = network.identify(client.remotePort ?? 0, this.port);
    const verdict = network.verdict(from, this.dest);
    if (verdict === 'reset') {
      network.refused++;
      client.destroy();
      return;
    }
    const link: Link = { from, client, upstream: undefined, held: false };
    this.links.add(link);
    client.on('close', () => this.drop(link));
    if (verdict === 'hold') {
      network.held++;
      link.held = true; // stays paused (pauseOnConnect) and unconnected until the heal
      return;
    }
    this.connect(link);
  }

  /** Opens the upstream connection of `link` and moves bytes both ways. */
  private connect(link: Link): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    upstream.on('error', () => {});
    upstream.on('close', () => this.drop(link));
    link.upstream = upstream;
    this.flow(link);
  }

  private flow(link: Link): void {
    if (!link.upstream) return;
    link.held = false;
    link.client.pipe(link.upstream);
    link.upstream.pipe(link.client);
    link.client.resume();
    link.upstream.resume();
  }

  private drop(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }

  /** Applies `verdict` to every open connection: resets, holds or lets flow again. */
  apply(verdict: (from: number | undefined) => Verdict): void {
    for (const link of [...this.links]) {
      const v = verdict(link.from);
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

  /** Number of open connections, forwarded or held (for failure messages and the proxy's own test). */
  get openLinks(): number {
    return this.links.size;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.apply(() => 'reset');
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

/**
 * The peer network of one test cluster: a proxy per member and the current partition.
 *
 * @example
 * const net = new PeerNetwork(() => new Map([[pid0, 0], [pid1, 1], [pid2, 2]]));
 * const p0 = await net.addProxy(0, realPeerPort0); // member 0 advertises p0.port
 * net.isolate(0); // member 0 can neither reach nor be reached by 1 and 2
 * net.heal();
 */
export class PeerNetwork {
  private readonly proxies: PeerProxy[] = [];
  /** Group number per member index while a partition is active. */
  private groups: Map<number, number> | undefined;
  private mode: PartitionMode = 'reset';
  /** Connections reset because of a partition (for failure messages). */
  refused = 0;
  /** New connections held silently by a blackhole partition. */
  held = 0;
  /** Connections whose dialing member could not be identified (always let through). */
  unidentified = 0;

  /** @param members the current member processes, as a map from pid to member index. */
  constructor(private readonly members: () => Map<number, number>) {}

  /** Starts the proxy in front of member `dest`, whose real peer listener is on `targetPort`. */
  async addProxy(dest: number, targetPort: number): Promise<PeerProxy> {
    const proxy = await PeerProxy.listen(dest, targetPort, this);
    this.proxies.push(proxy);
    return proxy;
  }

  /** The member index that dialed `clientPort -> proxyPort`, or undefined. */
  identify(clientPort: number, proxyPort: number): number | undefined {
    const members = this.members();
    const pid = socketOwner(clientPort, proxyPort, members.keys());
    if (pid === undefined) {
      this.unidentified++;
      return undefined;
    }
    return members.get(pid);
  }

  /** What happens now to a connection from member `from` to member `dest`. */
  verdict(from: number | undefined, dest: number): Verdict {
    if (!this.groups || from === undefined) return 'pass';
    if (this.groups.get(from) === this.groups.get(dest)) return 'pass';
    return this.mode === 'blackhole' ? 'hold' : 'reset';
  }

  /**
   * Splits the members into `groups`: peer traffic flows only inside a group; across groups it is reset
   * or blackholed (see the module comment) until {@link heal}. A member in no group is alone.
   */
  partition(groups: number[][], mode: PartitionMode = 'reset'): void {
    const g = new Map<number, number>();
    groups.forEach((members, n) => {
      for (const m of members) g.set(m, n);
    });
    for (const p of this.proxies) if (!g.has(p.dest)) g.set(p.dest, -1 - p.dest);
    this.groups = g;
    this.mode = mode;
    for (const p of this.proxies) p.apply((from) => this.verdict(from, p.dest));
  }

  /** Cuts member `i` off from every other member, both directions. */
  isolate(i: number, mode: PartitionMode = 'reset'): void {
    this.partition([[i], this.proxies.map((p) => p.dest).filter((d) => d !== i)], mode);
  }

  /** Ends the partition: held connections flow again, and members reconnect by themselves. */
  heal(): void {
    this.groups = undefined;
    for (const p of this.proxies) p.apply(() => 'pass');
  }

  /** Closes every proxy. */
  async close(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}
