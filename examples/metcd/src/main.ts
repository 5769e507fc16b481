#!/usr/bin/env node
/**
 * metcd's process: parse flags, open the engine and the raft disk, start the member, serve peers and
 * clients, tick. SIGINT/SIGTERM stop it cleanly; SIGKILL is what the end-to-end test uses to crash it.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Logger } from '@kv/server';
import { parseArgs, USAGE, UsageError } from './args.js';
import { createApiServer, createPeerServer } from './http-api.js';
import { KvStore } from './kv-store.js';
import { RaftDisk } from './raft-disk.js';
import { Replica } from './replica.js';
import { HttpTransport } from './transport.js';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  let cfg: ReturnType<typeof parseArgs>;
  try {
    cfg = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`metcd: ${e.message}\n(see metcd --help)\n`);
    process.exit(2);
  }
  const log = new Logger(cfg.logLevel, process.stderr, { member: String(cfg.id) });

  const store = await KvStore.open(cfg.engine, join(cfg.dataDir, 'engine'));
  const disk = await RaftDisk.open({
    dir: cfg.dataDir,
    id: cfg.id,
    segmentBytes: cfg.walSegmentBytes,
    catchUpEntries: cfg.snapshotCatchUpEntries,
    keepSnapshots: 3,
    logger: (level, message, fields) => log.log(level, message, { component: 'wal', ...fields }),
  });
  // The transport reports back into the replica, which does not exist yet when the transport is built.
  let replica: Replica | undefined;
  const transport = new HttpTransport({
    unreachable: (to) => replica?.reportUnreachable(to),
    snapshotStatus: (to, ok) => replica?.reportSnapshot(to, ok),
  });
  replica = await Replica.start(
    {
      id: cfg.id,
      peers: cfg.peers,
      join: cfg.join,
      electionTicks: cfg.electionTicks,
      heartbeatTicks: cfg.heartbeatTicks,
      snapshotCount: cfg.snapshotCount,
      proposalTimeoutMs: cfg.proposalTimeoutMs,
      logger: log,
    },
    disk,
    store,
    transport,
  );
  const member = replica;

  const peerUrl = new URL(cfg.peers.get(cfg.id)!);
  const peerServer = createPeerServer(member, log);
  const apiServer = createApiServer(member, log);
  await listen(peerServer, Number(peerUrl.port), peerUrl.hostname);
  await listen(apiServer, cfg.port, cfg.host);
  const ticker = setInterval(() => member.tick(), cfg.tickMs);
  log.info('metcd serving', {
    client: `http://${cfg.host}:${cfg.port}`,
    peer: peerUrl.origin,
    engine: cfg.engine,
  });

  let stopping = false;
  const shutdown = async (reason: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { reason });
    clearInterval(ticker);
    await member.stop();
    transport.close();
    for (const s of [apiServer, peerServer]) {
      s.close();
      s.closeAllConnections();
    }
    await disk.close();
    await store.close();
    process.exit(code);
  };
  // Give the removal's own HTTP answer and the last messages a moment to leave, then go (as etcd does).
  member.onRemoved = () => setTimeout(() => void shutdown('removed from the cluster', 0), 500);
  member.onFatal = (e) => void shutdown(`fatal: ${e.message}`, 1);
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`metcd: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
