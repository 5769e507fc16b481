/**
 * Startup TLS resolution for kv-server, in etcd's order: peer side first (auto TLS, "starting with peer
 * TLS"), then client side (auto TLS, warnings for http:// URLs that ignore the TLS flags). The result
 * holds loaded, checked material for every listener that needs it.
 */
import { join } from 'node:path';
import type * as tls from 'node:tls';
import type { Logger } from '../log/logger.js';
import { describeTlsInfo, isTlsInfoEmpty, type LoadedTls, loadServerTls, type TlsInfo } from './tls-info.js';

/** The URLs and TLS flags the setup needs (a subset of ServerConfig). */
export interface TlsSetupInput {
  dataDir: string;
  listenClientUrls: readonly URL[];
  listenPeerUrls: readonly URL[];
  listenMetricsUrls: readonly URL[];
  clientTls: TlsInfo;
  peerTls: TlsInfo;
}

/**
 * Peer TLS for the peer transport (a later issue): what to listen with and what to dial with.
 * `server` is set when peer TLS is configured; `dial` carries the client side of mutual TLS.
 */
export interface PeerTlsConfig {
  /** The settings as given (cert/key replaced by the generated pair under peer auto TLS). */
  info: TlsInfo;
  /** Server-side options for https:// peer listeners; undefined when peer TLS is off. */
  server: tls.TlsOptions | undefined;
  /**
   * Options for dialing other members: our cert/key as client certificate, the trusted CA to verify
   * them. With self-signed (auto TLS) certificates etcd skips verification of the other side.
   */
  dial: tls.ConnectionOptions | undefined;
  /** `--peer-cert-allowed-cn`: required CN of peers' client certificates ('' = any). */
  allowedCn: string;
  /** `--peer-cert-allowed-hostname`: required hostname in peers' certificates ('' = any). */
  allowedHostname: string;
}

/** Everything the listeners need. */
export interface ResolvedTls {
  /** Client TLS; undefined when no client URL or metrics URL uses https. */
  client: LoadedTls | undefined;
  peer: PeerTlsConfig;
}

const isSecureScheme = (u: URL) => u.protocol === 'https:' || u.protocol === 'unixs:';

/** Resolves auto TLS, logs etcd's lines, loads and checks every file. Throws TlsConfigError. */
export async function resolveTls(input: TlsSetupInput, log: Logger): Promise<ResolvedTls> {
  const peer = await resolvePeerTls(input, log);
  log.info('configuring client listeners', {
    'listen-client-urls': input.listenClientUrls.map((u) => u.origin),
  });
  let clientInfo = input.clientTls;
  // self-cert.js (X.509 encoding, reflect-metadata) is imported only for --auto-tls: loading it cost
  // ~50 ms of every start (docs/benchmarks.md "Restart and RSS (session 6)").
  if (clientInfo.autoTls) {
    if (!isTlsInfoEmpty(clientInfo)) {
      log.warn('ignoring client auto TLS since certs given');
    } else {
      const files = await (await import('./self-cert.js')).ensureSelfCert(
        join(input.dataDir, 'fixtures', 'client'),
        { hosts: input.listenClientUrls.map((u) => u.host) },
        log,
      );
      clientInfo = { ...clientInfo, ...files, selfSigned: true };
    }
  }
  for (const u of input.listenClientUrls) {
    if (isSecureScheme(u)) continue;
    if (!isTlsInfoEmpty(clientInfo)) {
      log.warn('scheme is HTTP while key and cert files are present; ignoring key and cert files', {
        'client-url': u.origin,
      });
    }
    if (clientInfo.clientCertAuth) {
      log.warn('scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL', {
        'client-url': u.origin,
      });
    }
  }
  const needsClientTls = [...input.listenClientUrls, ...input.listenMetricsUrls].some(isSecureScheme);
  return { client: needsClientTls ? loadServerTls(clientInfo) : undefined, peer };
}

async function resolvePeerTls(input: TlsSetupInput, log: Logger): Promise<PeerTlsConfig> {
  let info = input.peerTls;
  if (info.autoTls) {
    if (!isTlsInfoEmpty(info)) {
      log.warn('ignoring peer auto TLS since certs given');
    } else {
      const files = await (await import('./self-cert.js')).ensureSelfCert(
        join(input.dataDir, 'fixtures', 'peer'),
        { hosts: input.listenPeerUrls.map((u) => u.host) },
        log,
      );
      info = { ...info, ...files, selfSigned: true };
    }
  }
  const base = { info, allowedCn: info.allowedCn, allowedHostname: info.allowedHostname };
  if (isTlsInfoEmpty(info)) return { ...base, server: undefined, dial: undefined };
  log.info('starting with peer TLS', {
    'tls-info': describeTlsInfo(info),
    'cipher-suites': info.cipherSuites,
  });
  const loaded = loadServerTls(info);
  const { cert, key, ca, ciphers, minVersion } = loaded.serverOptions;
  const dial: tls.ConnectionOptions = {
    cert,
    key,
    minVersion,
    ...(ca !== undefined ? { ca } : {}),
    ...(ciphers !== undefined ? { ciphers } : {}),
    rejectUnauthorized: !info.selfSigned,
  };
  return { ...base, server: loaded.serverOptions, dial };
}
