/**
 * Normalisation of command output before comparing etcdctl with kvctl, after
 * /work/shared/compat/etcdctl-diff: ports, temp dirs, random ids, terms, sizes and timings vary
 * between runs and members, so they are masked; everything else must match byte for byte.
 */
const ID_KEYS =
  'cluster_id|member_id|raft_term|ID|id|lease|hash|dbSize|dbSizeInUse|raftIndex|raftAppliedIndex|' +
  'leader|memberID|hash_revision|compact_revision_hash|watch_id|raftTerm|etcdserver|etcdcluster|' +
  'ClusterID|MemberID|RaftTerm|Lease';

function sortMemberJson(line: string): string {
  if (!line.includes('"members"')) return line;
  try {
    const d = JSON.parse(line) as { members: { name?: string; peerURLs?: string[] }[] };
    d.members.sort((a, b) =>
      `${a.name ?? ''} ${a.peerURLs ?? []}`.localeCompare(`${b.name ?? ''} ${b.peerURLs ?? []}`),
    );
    return JSON.stringify(d);
  } catch {
    return line;
  }
}

function sortMemberLines(text: string): string {
  const out: string[] = [];
  let block: string[] = [];
  for (const line of [...text.split('\n'), null]) {
    if (line !== null && /^<ID>, (un)?started, /.test(line)) {
      block.push(line);
      continue;
    }
    out.push(...block.sort());
    block = [];
    if (line !== null) out.push(line);
  }
  return out.join('\n');
}

export function normalize(raw: string, ports: Record<string, number>, tmpd: string): string {
  // JSON.parse turns big ids into rounded numbers; they are masked below, so that is harmless.
  let text = raw.split('\n').map(sortMemberJson).join('\n');
  for (const [name, port] of Object.entries(ports)) text = text.replaceAll(`:${port}`, `:<${name}>`);
  text = text.replaceAll(tmpd, '<tmp>');
  text = text
    .split('\n')
    .filter((l) => !l.startsWith('{"level":'))
    .join('\n');
  text = text.replace(new RegExp(`"(${ID_KEYS})"\\s*:\\s*("[^"]*"|[0-9]+)`, 'g'), '"$1":X');
  text = text.replace(/"version"\s*:\s*"[0-9]+\.[0-9]+[^"]*"/g, '"version":X');
  text = text.replace(/"ttl":\s*"?-?[0-9]+"?/g, '"ttl":N');
  text = text.replace(/remaining\(-?\d+s\)/g, 'remaining(Ns)');
  text = text.replace(/\b[0-9a-f]{10,16}\b/g, '<ID>');
  text = text.replace(/ +<ID>/g, ' <ID>');
  text = text.replace(
    /ETCD_INITIAL_CLUSTER="([^"]*)"/g,
    (_m, g: string) => `ETCD_INITIAL_CLUSTER="${g.split(',').sort().join(',')}"`,
  );
  text = sortMemberLines(text);
  // etcd returns a lease's keys in Go map order (random per call), so compare them as a set.
  text = text.replace(
    /attached keys\(\[([^\]]*)\]\)/g,
    (_m, g: string) => `attached keys([${g.split(' ').sort().join(' ')}])`,
  );
  text = text.replace(/"keys":\[([^\]]*)\]/g, (_m, g: string) => `"keys":[${g.split(',').sort().join(',')}]`);
  text = text.replace(/took = \S+/g, 'took = T');
  text = text.replace(/\b\d+\.\d+(ms|µs|s)\b/g, '<dur>');
  // Table columns are as wide as their widest cell, and a random member id prints with 15 or 16 hex
  // digits: compare table rules and headers without their padding.
  text = text
    .split('\n')
    .map((l) => (/^[+|]/.test(l) ? l.replace(/-{2,}/g, '-').replace(/ {2,}/g, ' ') : l))
    .join('\n');
  return text;
}
