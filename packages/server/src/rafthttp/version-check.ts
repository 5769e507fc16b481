/**
 * etcd's peer version checks (rafthttp/util.go): the remote's X-Server-Version must not be below our
 * minimum cluster version, and the remote's X-Min-Cluster-Version must not be above our version, both
 * compared on major.minor only. Missing headers mean "2.0.0", as in etcd.
 */

/** A parsed semantic version (pre-release and build metadata are kept only for printing). */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parses `x.y.z[-pre][+build]`; undefined when the text is not a version. */
export function parseSemVer(text: string): SemVer | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text };
}

/** -1, 0 or 1 comparing major.minor only (etcd's compareMajorMinorVersion). */
export function compareMajorMinor(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  return 0;
}

/** The version a header carries, "2.0.0" when absent (etcd's serverVersion/minClusterVersion). */
export function headerVersion(value: string | undefined): SemVer | undefined {
  return parseSemVer(value || '2.0.0');
}

/**
 * etcd's checkVersionCompatibility. Returns the error text (as etcd formats it) or undefined.
 * An unparsable remote version is refused (etcd would panic in semver.Must).
 */
export function checkVersionCompatibility(
  remoteName: string,
  remoteServer: SemVer | undefined,
  remoteMinCluster: SemVer | undefined,
  localServer: SemVer,
  localMinCluster: SemVer,
): string | undefined {
  if (!remoteServer || !remoteMinCluster) return `unparsable version from remote[${remoteName}]`;
  if (compareMajorMinor(remoteServer, localMinCluster) === -1) {
    return `remote version is too low: remote[${remoteName}]=${remoteServer.text}, local=${localServer.text}`;
  }
  if (compareMajorMinor(remoteMinCluster, localServer) === 1) {
    return `local version is too low: remote[${remoteName}]=${remoteServer.text}, local=${localServer.text}`;
  }
  return undefined;
}

/** Stream types each etcd minor version supports (etcd's supportedStream). */
const SUPPORTED_STREAMS: Record<string, readonly string[]> = {
  '2.0': [],
  '2.1': ['msgappv2', 'message'],
  '2.2': ['msgappv2', 'message'],
  '2.3': ['msgappv2', 'message'],
  '3.0': ['msgappv2', 'message'],
  '3.1': ['msgappv2', 'message'],
  '3.2': ['msgappv2', 'message'],
  '3.3': ['msgappv2', 'message'],
  '3.4': ['msgappv2', 'message'],
};

/** Whether a remote of version `v` serves stream type `t` (etcd's checkStreamSupport). */
export function streamSupported(v: SemVer, t: string): boolean {
  return SUPPORTED_STREAMS[`${v.major}.${v.minor}`]?.includes(t) ?? false;
}
