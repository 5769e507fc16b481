/** A loopback TCP proxy whose connections a test can cut, to break gRPC streams on purpose. */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A running proxy in front of `host:port`. */
export interface TcpProxy {
  /** `127.0.0.1:port` of the proxy. */
  address: string;
  /** Destroys every open connection (both sides); new connections are still accepted. */
  cutAll(): void;
  /**
   * While on, bytes are accepted from both sides but forwarded to neither: requests leave the
   * client and vanish, as on a network partition.
   */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (`host:port`). */
export async function startProxy(target: string): Promise<TcpProxy> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  let swallowing = false;
  const server: Server = createServer((downstream) => {
    const upstream = connect(Number(port), host);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.on('data', (d: Buffer) => {
      if (!swallowing) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!swallowing) downstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const proxyPort = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    address: `127.0.0.1:${proxyPort}`,
    cutAll() {
      for (const s of sockets) s.destroy();
    },
    blackhole(on: boolean) {
      swallowing = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
