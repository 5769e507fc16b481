/** member ..., endpoint health|status|hashkv, alarm list|disarm, defrag, snapshot save. */
import { open, rename } from 'node:fs/promises';
import { type Id, KvClient } from '@kv/client';
import { AlarmType_names } from '@kv/client/api';
import type { Ctx } from '../context.js';
import { ctlErrorOf } from '../context.js';
import { fieldsHeader, printTable, q } from '../display.js';
import { arr, bool, header, num, obj, type Raw, str } from '../gojson.js';
import { ProgressBar } from '../progress.js';
import { CtlError, Exit, formatDuration, hex, hex16, line, memberIdArg } from '../util.js';

interface MemberLike {
  ID: Id;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

const memberJson = (m: MemberLike): Raw =>
  obj([
    ['ID', num(m.ID)],
    ['name', str(m.name)],
    ['peerURLs', arr(m.peerURLs.map((u) => str(u, true)))],
    ['clientURLs', arr(m.clientURLs.map((u) => str(u, true)))],
    ['isLearner', bool(m.isLearner)],
  ]);

export async function memberList(ctx: Ctx): Promise<void> {
  const res = await ctx.client().memberList();
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(
      obj([
        ['header', header(res.header)],
        ['members', arr(res.members.map(memberJson))],
      ]).raw,
    );
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    for (const m of res.members) {
      line(`"ID" : ${m.ID}`);
      line(`"Name" : ${q(m.name)}`);
      for (const u of m.peerURLs) line(`"PeerURL" : ${q(u)}`);
      for (const u of m.clientURLs) line(`"ClientURL" : ${q(u)}`);
      line(`"IsLearner" : ${m.isLearner}`);
      line();
    }
    return;
  }
  const rows = res.members.map((m) => [
    hex(m.ID),
    m.name === '' ? 'unstarted' : 'started',
    m.name,
    m.peerURLs.join(','),
    m.clientURLs.join(','),
    String(m.isLearner),
  ]);
  if (ctx.format === 'table') {
    printTable(['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'], rows);
    return;
  }
  for (const r of rows) line(r.join(', '));
}

function parsePeerUrls(text: string | undefined): string[] {
  if (!text) throw new CtlError('member peer urls not provided', Exit.badArgs);
  return text.split(',').map((u) => u.trim());
}

export async function memberAdd(
  ctx: Ctx,
  name: string | undefined,
  peerUrls: string | undefined,
  learner: boolean,
): Promise<void> {
  if (name === undefined) throw new CtlError('member name not provided', Exit.badArgs);
  const urls = parsePeerUrls(peerUrls);
  const res = await ctx.client().memberAdd(urls, { isLearner: learner });
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (ctx.printedProtobuf()) return;
  const newId = res.member?.ID ?? 0;
  if (ctx.format === 'json') {
    line(
      obj([
        ['header', header(res.header)],
        ['member', res.member ? memberJson(res.member) : undefined],
        ['members', arr(res.members.map(memberJson))],
      ]).raw,
    );
    return;
  }
  line(`Member ${hex16(newId)} added to cluster ${hex16(res.header?.clusterId ?? 0)}`);
  const conf: string[] = [];
  for (const m of res.members) {
    for (const u of m.peerURLs) conf.push(`${m.ID === newId ? name : m.name}=${u}`);
  }
  line();
  line(`ETCD_NAME="${name}"`);
  line(`ETCD_INITIAL_CLUSTER="${conf.join(',')}"`);
  line(`ETCD_INITIAL_ADVERTISE_PEER_URLS="${urls.join(',')}"`);
  line('ETCD_INITIAL_CLUSTER_STATE="existing"');
}

type MemberVerb = 'removed from' | 'updated in' | 'promoted in';

export async function memberChange(
  ctx: Ctx,
  verb: MemberVerb,
  idText: string | undefined,
  peerUrls?: string,
): Promise<void> {
  if (idText === undefined) throw new CtlError('member ID is not provided', Exit.badArgs);
  const id = memberIdArg(idText);
  const c = ctx.client();
  const res =
    verb === 'removed from'
      ? await c.memberRemove(id)
      : verb === 'updated in'
        ? await c.memberUpdate(id, parsePeerUrls(peerUrls))
        : await c.memberPromote(id);
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(
      obj([
        ['header', header(res.header)],
        ['members', arr(res.members.map(memberJson))],
      ]).raw,
    );
    return;
  }
  line(`Member ${hex16(id)} ${verb} cluster ${hex16(res.header?.clusterId ?? 0)}`);
}

// ---- endpoint ----

/** A client bound to one endpoint (endpoint commands talk to each endpoint separately). */
export function clientFor(ctx: Ctx, ep: string): KvClient {
  const shared = ctx.client();
  return new KvClient({ ...shared.conn.options, endpoints: [ep] });
}

export async function endpointHealth(ctx: Ctx): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields', 'table');
  const results = await Promise.all(
    ctx.endpoints.map(async (ep) => {
      const c = clientFor(ctx, ep);
      const started = performance.now();
      try {
        // etcdctl's probe: a linearizable read of key "health"; permission denied still proves a quorum.
        await c.get('health').catch((e: unknown) => {
          if (!(e instanceof Error && e.message === 'etcdserver: permission denied')) throw e;
        });
        return { ep, health: true, took: formatDuration(performance.now() - started), error: '' };
      } catch (e) {
        return {
          ep,
          health: false,
          took: formatDuration(performance.now() - started),
          error: ctlErrorOf(e).message,
        };
      } finally {
        c.close();
      }
    }),
  );
  if (ctx.format === 'json') {
    line(
      `[${results
        .map(
          (r) =>
            obj([
              ['endpoint', str(r.ep)],
              ['health', bool(r.health, true)],
              ['took', str(r.took)],
              ['error', str(r.error)],
            ]).raw,
        )
        .join(',')}]`,
    );
  } else if (ctx.format === 'fields') {
    for (const r of results) {
      line(`"Endpoint" : ${q(r.ep)}`);
      line(`"Health" : ${r.health}`);
      line(`"Took" : ${r.took}`);
      line(`"Error" : ${r.error}`);
      line();
    }
  } else if (ctx.format === 'table') {
    printTable(
      ['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'],
      results.map((r) => [r.ep, String(r.health), r.took, r.error]),
    );
  } else {
    for (const r of results) {
      if (r.health) line(`${r.ep} is healthy: successfully committed proposal: took = ${r.took}`);
      else process.stderr.write(`${r.ep} is unhealthy: failed to commit proposal: ${r.error}\n`);
    }
  }
  if (results.some((r) => !r.health)) throw new CtlError('unhealthy cluster', Exit.error);
}

/** go-humanize's `Bytes` (SI units): "25 kB", "1.2 MB". */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const v = n / 1000 ** e;
  const text = v < 10 ? v.toFixed(1) : v.toFixed(0);
  return `${text} ${units[e]}`;
}

export async function endpointStatus(ctx: Ctx): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields', 'table');
  const all = await Promise.all(
    ctx.endpoints.map(async (ep) => {
      const c = clientFor(ctx, ep);
      try {
        return { ep, res: await c.status() };
      } finally {
        c.close();
      }
    }),
  );
  if (ctx.format === 'json') {
    const items = all.map(({ ep, res }) =>
      obj([
        ['Endpoint', str(ep, true)],
        [
          'Status',
          obj([
            ['header', header(res.header)],
            ['version', str(res.version)],
            ['dbSize', num(res.dbSize)],
            ['leader', num(res.leader)],
            ['raftIndex', num(res.raftIndex)],
            ['raftTerm', num(res.raftTerm)],
            ['raftAppliedIndex', num(res.raftAppliedIndex)],
            ['errors', arr(res.errors.map((e) => str(e, true)))],
            ['dbSizeInUse', num(res.dbSizeInUse)],
            ['isLearner', bool(res.isLearner)],
          ]),
        ],
      ]),
    );
    line(`[${items.map((i) => i.raw).join(',')}]`);
    return;
  }
  if (ctx.format === 'fields') {
    for (const { ep, res } of all) {
      fieldsHeader(res.header);
      line(`"Version" : ${q(res.version)}`);
      line(`"DBSize" : ${res.dbSize}`);
      line(`"Leader" : ${res.leader}`);
      line(`"IsLearner" : ${res.isLearner}`);
      line(`"RaftIndex" : ${res.raftIndex}`);
      line(`"RaftTerm" : ${res.raftTerm}`);
      line(`"RaftAppliedIndex" : ${res.raftAppliedIndex}`);
      line(`"Errors" : [${res.errors.join(' ')}]`);
      line(`"Endpoint" : ${q(ep)}`);
      line();
    }
    return;
  }
  const rows = all.map(({ ep, res }) => [
    ep,
    hex(res.header?.memberId ?? 0),
    res.version,
    humanBytes(res.dbSize),
    String(res.leader === res.header?.memberId),
    String(res.isLearner),
    String(res.raftTerm),
    String(res.raftIndex),
    String(res.raftAppliedIndex),
    res.errors.join(', '),
  ]);
  if (ctx.format === 'table') {
    printTable(
      [
        'ENDPOINT',
        'ID',
        'VERSION',
        'DB SIZE',
        'IS LEADER',
        'IS LEARNER',
        'RAFT TERM',
        'RAFT INDEX',
        'RAFT APPLIED INDEX',
        'ERRORS',
      ],
      rows,
    );
    return;
  }
  for (const r of rows) line(`${r.join(', ')}`);
}

export async function endpointHashKV(ctx: Ctx, rev: number): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields', 'table');
  const all = await Promise.all(
    ctx.endpoints.map(async (ep) => {
      const c = clientFor(ctx, ep);
      try {
        return { ep, res: await c.hashKV(rev) };
      } finally {
        c.close();
      }
    }),
  );
  if (ctx.format === 'json') {
    const items = all.map(({ ep, res }) =>
      obj([
        ['Endpoint', str(ep, true)],
        [
          'HashKV',
          obj([
            ['header', header(res.header)],
            ['hash', num(res.hash)],
            ['compact_revision', num(res.compactRevision)],
          ]),
        ],
      ]),
    );
    line(`[${items.map((i) => i.raw).join(',')}]`);
    return;
  }
  if (ctx.format === 'fields') {
    for (const { ep, res } of all) {
      fieldsHeader(res.header);
      line(`"Endpoint" : ${q(ep)}`);
      line(`"Hash" : ${res.hash}`);
      line();
    }
    return;
  }
  if (ctx.format === 'table') {
    printTable(
      ['ENDPOINT', 'HASH'],
      all.map(({ ep, res }) => [ep, String(res.hash)]),
    );
    return;
  }
  for (const { ep, res } of all) line(`${ep}, ${res.hash}`);
}

// ---- alarm, defrag, snapshot ----

/** Alarms as etcdctl prints them: `memberID:<id> alarm:<NAME> ` lines, or the response as JSON. */
function printAlarms(ctx: Ctx, alarms: { memberID: Id; alarm: number }[]): void {
  // etcdctl's fields printer dereferences the (absent) header and crashes; kvctl refuses it.
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (ctx.format === 'json') {
    // etcd fills no header into alarm responses, so etcdctl's JSON has only the alarms.
    line(
      obj([
        [
          'alarms',
          arr(
            alarms.map((a) =>
              obj([
                ['memberID', num(a.memberID)],
                ['alarm', num(a.alarm)],
              ]),
            ),
          ),
        ],
      ]).raw,
    );
    return;
  }
  for (const a of alarms) line(`memberID:${a.memberID} alarm:${AlarmType_names[a.alarm] ?? a.alarm} `);
}

export async function alarmList(ctx: Ctx): Promise<void> {
  const alarms = await ctx.client().alarmList();
  if (ctx.printedProtobuf()) return;
  printAlarms(ctx, alarms);
}

export async function alarmDisarm(ctx: Ctx): Promise<void> {
  const alarms = await ctx.client().alarmDisarmAll();
  // With no alarm to disarm clientv3 answers an empty response of its own: no bytes to print.
  if (ctx.format === 'protobuf' && alarms.length === 0) return;
  if (ctx.printedProtobuf()) return;
  printAlarms(ctx, alarms);
}

export async function defrag(ctx: Ctx): Promise<void> {
  let failed = false;
  for (const ep of ctx.endpoints) {
    const c = clientFor(ctx, ep);
    try {
      await c.defragment();
      line(`Finished defragmenting etcd member[${ep}]`);
    } catch (e) {
      failed = true;
      process.stderr.write(`Failed to defragment etcd member[${ep}] (${ctlErrorOf(e).message})\n`);
    } finally {
      c.close();
    }
  }
  if (failed) process.exitCode = Exit.error;
}

export async function snapshotSave(ctx: Ctx, path: string | undefined): Promise<void> {
  if (path === undefined) throw new CtlError('snapshot save expects one argument', Exit.badArgs);
  if (ctx.endpoints.length !== 1)
    throw new CtlError('snapshot must be requested to one selected node, not multiple', Exit.badArgs);
  // Like etcdctl: stream into "<path>.part", fsync, then rename, so a failed save leaves no file.
  const part = `${path}.part`;
  const fh = await open(part, 'w', 0o600);
  try {
    // The first chunk tells the size (received + remaining), so the bar has a total from then on.
    const bar = new ProgressBar(undefined, { unit: 'bytes' });
    let received = 0;
    for await (const chunk of await ctx.client().snapshot()) {
      await fh.write(chunk.blob);
      received += chunk.blob.length;
      bar.setTotal(received + Number(chunk.remainingBytes));
      bar.set(received);
    }
    bar.finish();
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(part, path);
  line(`Snapshot saved at ${path}`);
}
