/** lease grant | revoke | timetolive | list | keep-alive. */
import type { Id } from '@kv/client';
import type { Ctx } from '../context.js';
import { fieldsHeader } from '../display.js';
import { arr, b64, header, headerEntries, num, obj, str } from '../gojson.js';
import { encodeHeader } from '../protobuf.js';
import { CtlError, Exit, leaseHex, leaseIdArg, line, out } from '../util.js';

type HeaderOf = Parameters<typeof encodeHeader>[0] | undefined;

/**
 * `-w protobuf` of a lease response: etcdctl prints only its header's bytes (clientv3's lease
 * responses embed the header, and its Marshal method is what etcdctl's printer finds).
 */
function printedHeaderProtobuf(ctx: Ctx, h: HeaderOf): boolean {
  // Called right after each lease call: like etcdctl, a format it lacks fails after the call.
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.format !== 'protobuf') return false;
  out(h ? encodeHeader(h) : new Uint8Array());
  return true;
}

export async function grant(ctx: Ctx, ttlText: string | undefined): Promise<void> {
  if (ttlText === undefined) throw new CtlError('lease grant command needs TTL argument', Exit.badArgs);
  if (!/^-?\d+$/.test(ttlText))
    throw new CtlError(`bad TTL (strconv.ParseInt: parsing "${ttlText}": invalid syntax)`, Exit.badArgs);
  let res: Awaited<ReturnType<ReturnType<Ctx['client']>['grant']>>;
  try {
    res = await ctx.client().grant(Number(ttlText));
  } catch (e) {
    throw new CtlError(`failed to grant lease (${(e as Error).message})`);
  }
  if (printedHeaderProtobuf(ctx, res.header)) return;
  if (ctx.format === 'json') {
    line(
      obj([
        ...headerEntries(res.header),
        ['ID', num(res.ID, true)],
        ['TTL', num(res.TTL, true)],
        ['Error', str(res.error, true)],
      ]).raw,
    );
  } else if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    line(`"ID" : ${res.ID}`);
    line(`"TTL" : ${res.TTL}`);
  } else {
    line(`lease ${leaseHex(res.ID)} granted with TTL(${res.TTL}s)`);
  }
}

export async function revoke(ctx: Ctx, idText: string | undefined): Promise<void> {
  if (idText === undefined) throw new CtlError('lease revoke command needs 1 argument', Exit.badArgs);
  const id = leaseIdArg(idText);
  let res: Awaited<ReturnType<ReturnType<Ctx['client']>['revoke']>>;
  try {
    res = await ctx.client().revoke(id);
  } catch (e) {
    throw new CtlError(`failed to revoke lease (${(e as Error).message})`);
  }
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.format === 'protobuf') {
    // clientv3.LeaseRevokeResponse has no Marshal method: etcdctl refuses it after the call.
    const h = res.header;
    throw new CtlError(
      `marshal unsupported for type clientv3.LeaseRevokeResponse ({cluster_id:${h?.clusterId ?? 0} member_id:${h?.memberId ?? 0} revision:${h?.revision ?? 0} raft_term:${h?.raftTerm ?? 0} })`,
      Exit.badFeature,
    );
  }
  if (ctx.format === 'json') line(obj([['header', header(res.header)]]).raw);
  else if (ctx.format === 'fields') fieldsHeader(res.header);
  else line(`lease ${leaseHex(id)} revoked`);
}

export async function timeToLive(ctx: Ctx, idText: string | undefined, keys: boolean): Promise<void> {
  if (idText === undefined)
    throw new CtlError('lease timetolive command needs lease ID as argument', Exit.badArgs);
  const id = leaseIdArg(idText);
  const res = await ctx.client().timeToLive(id, { keys });
  if (printedHeaderProtobuf(ctx, res.header)) return;
  if (ctx.format === 'json') {
    line(
      obj([
        ...headerEntries(res.header),
        ['id', num(res.ID, true)],
        ['ttl', num(res.TTL, true)],
        ['granted-ttl', num(res.grantedTTL, true)],
        [
          'keys',
          arr(
            res.keys.map((k) => b64(k)),
            true,
          ),
        ],
      ]).raw,
    );
  } else if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    line(`"ID" : ${res.ID}`);
    line(`"TTL" : ${res.TTL}`);
    line(`"GrantedTTL" : ${res.grantedTTL}`);
    for (const k of res.keys) line(`"Key" : ${JSON.stringify(new TextDecoder().decode(k))}`);
  } else if (res.grantedTTL === 0 && res.TTL === -1) {
    line(`lease ${leaseHex(id)} already expired`);
  } else {
    let text = `lease ${leaseHex(res.ID)} granted with TTL(${res.grantedTTL}s), remaining(${res.TTL}s)`;
    if (keys) text += `, attached keys([${res.keys.map((k) => new TextDecoder().decode(k)).join(' ')}])`;
    line(text);
  }
}

export async function list(ctx: Ctx): Promise<void> {
  const res = await ctx.client().leases();
  if (printedHeaderProtobuf(ctx, res.header)) return;
  if (ctx.format === 'json') {
    line(
      obj([
        ...headerEntries(res.header),
        [
          'leases',
          arr(
            res.leases.map((l) => obj([['id', num(l.ID, true)]])),
            true,
          ),
        ],
      ]).raw,
    );
  } else if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    for (const l of res.leases) line(`"ID" : ${l.ID}`);
  } else {
    line(`found ${res.leases.length} leases`);
    for (const l of res.leases) line(leaseHex(l.ID));
  }
}

function printKeepAlive(
  ctx: Ctx,
  res: { header?: Parameters<typeof headerEntries>[0]; ID: Id; TTL: number },
): void {
  if (printedHeaderProtobuf(ctx, res.header as HeaderOf)) return;
  if (ctx.format === 'json') {
    line(obj([...headerEntries(res.header), ['ID', num(res.ID, true)], ['TTL', num(res.TTL, true)]]).raw);
  } else if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    line(`"ID" : ${res.ID}`);
    line(`"TTL" : ${res.TTL}`);
  } else {
    line(`lease ${leaseHex(res.ID)} keepalived with TTL(${res.TTL})`);
  }
}

export async function keepAlive(ctx: Ctx, idText: string | undefined, once: boolean): Promise<void> {
  if (idText === undefined)
    throw new CtlError('lease keep-alive command needs lease ID as argument', Exit.badArgs);
  const id = leaseIdArg(idText);
  if (once) {
    const res = await ctx.client().keepAliveOnce(id);
    if (res.TTL <= 0) throw new CtlError('etcdserver: requested lease not found', Exit.badConnection);
    printKeepAlive(ctx, res);
    return;
  }
  const ka = await ctx
    .client()
    .keepAlive(id)
    .catch((e: unknown) => {
      throw new CtlError((e as Error).message, Exit.badConnection);
    });
  await new Promise<void>((resolve) => {
    ka.on('keepalive', (res) => printKeepAlive(ctx, res));
    ka.on('lost', () => {
      line(`lease ${leaseHex(id)} expired or revoked.`);
      resolve();
    });
  });
}
