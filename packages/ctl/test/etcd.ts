/**
 * Starts Debian's etcd 3.4 as a fresh single member on free loopback ports, like etcdctl-diff does
 * (member `n1`), plus one more free port for the cases that `member add` a second peer URL.
 */
import { freePort, startEtcd as startMember } from '../../client/test/etcd-process.js';

export interface Etcd {
  dir: string;
  clientUrl: string;
  ports: { client: number; peer: number; peer2: number };
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<Etcd> {
  const m = await startMember({ name: 'n1', token: 'diff' });
  return { dir: m.dir, clientUrl: m.clientUrl, ports: { ...m.ports, peer2: await freePort() }, stop: m.stop };
}
