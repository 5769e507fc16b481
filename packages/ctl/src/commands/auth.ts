/** auth enable|disable|status, user ..., role ... with etcdctl's messages. */
import { prefixEnd, toBytes } from '@kv/client';
import { type Permission, Permission_Type } from '@kv/client/api';
import type { Ctx } from '../context.js';
import { fieldsHeader, q } from '../display.js';
import { arr, b64, type HeaderLike, header, type JVal, num, obj, str } from '../gojson.js';
import { CtlError, Exit, line } from '../util.js';
import { readStdin } from './kv.js';

/**
 * Prints an auth response in the formats etcdctl prints it as a response (protobuf bytes, Go JSON of
 * the response, `fields` header lines plus `fields`), or returns false for the simple text, which
 * etcdctl's table printer prints for the commands that do not refuse it (commands refuse the formats
 * etcdctl refuses before calling this; `fields: null` means no fields form).
 */
function printedAsResponse(
  ctx: Ctx,
  res: { header?: HeaderLike },
  json: [string, JVal][] = [],
  fields: (() => void) | null = () => {},
): boolean {
  // etcdctl's table printer has none of the auth responses.
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.printedProtobuf()) return true;
  if (ctx.format === 'json') {
    line(obj([['header', header(res.header)], ...json]).raw);
    return true;
  }
  if (ctx.format === 'fields' && fields !== null) {
    fieldsHeader(res.header);
    fields();
    return true;
  }
  return false;
}

const names = (list: string[]): JVal => arr(list.map((n) => str(n, true)));

/**
 * etcdctl's `auth enable`: when the server answers that root lacks the root role, etcdctl itself adds
 * the role, grants it to root and tries again.
 */
export async function authEnable(ctx: Ctx): Promise<void> {
  const client = ctx.client();
  for (;;) {
    try {
      await client.authEnable();
      break;
    } catch (e) {
      if (!/root user does not have root role/.test((e as Error).message)) throw e;
      await client.roleAdd('root');
      await client.userGrantRole('root', 'root');
    }
  }
  line('Authentication Enabled');
}

export async function authDisable(ctx: Ctx): Promise<void> {
  await ctx.client().authDisable();
  line('Authentication Disabled');
}

export async function authStatus(ctx: Ctx): Promise<void> {
  const res = await ctx.client().authStatus();
  line(`Authentication Status: ${res.enabled}`);
  line(`AuthRevision: ${res.authRevision}`);
}

/** The password: after ':' in the argument, else the first line of stdin (`--interactive=false`). */
async function passwordOf(arg: string, interactive: boolean): Promise<{ name: string; password: string }> {
  const i = arg.indexOf(':');
  if (i >= 0) return { name: arg.slice(0, i), password: arg.slice(i + 1) };
  if (interactive && process.stdin.isTTY) {
    throw new CtlError(
      'kvctl does not prompt for passwords; use name:password or --interactive=false with stdin',
      Exit.badArgs,
    );
  }
  const text = await readStdin();
  return { name: arg, password: text.split('\n')[0] ?? '' };
}

export async function userAdd(
  ctx: Ctx,
  arg: string | undefined,
  interactive: boolean,
  noPassword: boolean,
): Promise<void> {
  if (arg === undefined)
    throw new CtlError('user add command requires user name as its argument', Exit.badArgs);
  const { name, password } = noPassword ? { name: arg, password: '' } : await passwordOf(arg, interactive);
  const res = await ctx.client().userAdd(name, password, { noPassword });
  if (printedAsResponse(ctx, res)) return;
  line(`User ${name} created`);
}

export async function userDelete(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('user delete command requires user name as its argument', Exit.badArgs);
  const res = await ctx.client().userDelete(name);
  if (printedAsResponse(ctx, res)) return;
  line(`User ${name} deleted`);
}

export async function userPasswd(ctx: Ctx, name: string | undefined, interactive: boolean): Promise<void> {
  if (name === undefined)
    throw new CtlError('user passwd command requires user name as its argument', Exit.badArgs);
  const { password } = await passwordOf(name, interactive);
  const res = await ctx.client().userChangePassword(name, password);
  if (printedAsResponse(ctx, res)) return;
  line('Password updated');
}

export async function userGet(ctx: Ctx, name: string | undefined, detail: boolean): Promise<void> {
  if (name === undefined)
    throw new CtlError('user get command requires user name as its argument', Exit.badArgs);
  const res = await ctx.client().userGet(name);
  if (detail) {
    // etcdctl prints this line in every format, then each role as `role get` prints it.
    line(`User: ${name}`);
    for (const role of res.roles) {
      line();
      printRoleGet(ctx, role, await ctx.client().roleGet(role));
    }
    return;
  }
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (printedAsResponse(ctx, res, [['roles', names(res.roles)]], null)) return;
  line(`User: ${name}`);
  line(`Roles: ${res.roles.join(' ')}`);
}

export async function userList(ctx: Ctx): Promise<void> {
  const res = await ctx.client().userList();
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (printedAsResponse(ctx, res, [['users', names(res.users)]], null)) return;
  for (const u of res.users) line(u);
}

export async function userGrantRole(
  ctx: Ctx,
  user: string | undefined,
  role: string | undefined,
): Promise<void> {
  if (user === undefined || role === undefined)
    throw new CtlError('user grant command requires user name and role name as its argument', Exit.badArgs);
  const res = await ctx.client().userGrantRole(user, role);
  if (printedAsResponse(ctx, res)) return;
  line(`Role ${role} is granted to user ${user}`);
}

export async function userRevokeRole(
  ctx: Ctx,
  user: string | undefined,
  role: string | undefined,
): Promise<void> {
  if (user === undefined || role === undefined)
    throw new CtlError('user revoke-role requires user name and role name as its argument', Exit.badArgs);
  const res = await ctx.client().userRevokeRole(user, role);
  if (printedAsResponse(ctx, res)) return;
  line(`Role ${role} is revoked from user ${user}`);
}

export async function roleAdd(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('role add command requires role name as its argument', Exit.badArgs);
  const res = await ctx.client().roleAdd(name);
  if (printedAsResponse(ctx, res)) return;
  line(`Role ${name} created`);
}

export async function roleDelete(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('role delete command requires role name as its argument', Exit.badArgs);
  const res = await ctx.client().roleDelete(name);
  if (printedAsResponse(ctx, res)) return;
  line(`Role ${name} deleted`);
}

const dec = new TextDecoder();

const PERM_TYPE_NAMES = ['READ', 'WRITE', 'READWRITE'];

/** One permission's key or range as etcdctl prints it. */
function rangeText(p: Permission): string {
  const key = dec.decode(p.key);
  if (p.rangeEnd.length === 0) return key;
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) return `[${key}, <open ended>`;
  const end = dec.decode(p.rangeEnd);
  const isPrefix = Buffer.from(prefixEnd(p.key)).equals(Buffer.from(p.rangeEnd));
  return `[${key}, ${end})${isPrefix ? ` (prefix ${key})` : ''}`;
}

function printRole(name: string, perms: Permission[]): void {
  line(`Role ${name}`);
  line('KV Read:');
  for (const p of perms)
    if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE)
      line(`\t${rangeText(p)}`);
  line('KV Write:');
  for (const p of perms)
    if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE)
      line(`\t${rangeText(p)}`);
}

export async function roleGet(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('role get command requires role name as its argument', Exit.badArgs);
  printRoleGet(ctx, name, await ctx.client().roleGet(name));
}

type RoleGetResult = Awaited<ReturnType<ReturnType<Ctx['client']>['roleGet']>>;

/** `role get` output (also each role of `user get --detail`). */
function printRoleGet(ctx: Ctx, name: string, res: RoleGetResult): void {
  const perms = arr(
    res.perm.map((p) =>
      obj([
        ['permType', num(p.permType)],
        ['key', b64(p.key)],
        ['range_end', b64(p.rangeEnd)],
      ]),
    ),
  );
  const fields = () => {
    for (const p of res.perm) {
      // etcdctl's Println puts a second space after the colon here.
      line(`"PermType" :  ${PERM_TYPE_NAMES[p.permType] ?? p.permType}`);
      line(`"Key" : ${q(p.key)}`);
      line(`"RangeEnd" : ${q(p.rangeEnd)}`);
    }
  };
  ctx.requireFormats('simple', 'json', 'protobuf', 'fields');
  if (printedAsResponse(ctx, res, [['perm', perms]], fields)) return;
  printRole(name, res.perm);
}

export async function roleList(ctx: Ctx): Promise<void> {
  const res = await ctx.client().roleList();
  const fields = () => line(`"Roles" :${res.roles.map((r) => ` ${q(r)}`).join('')}`);
  ctx.requireFormats('simple', 'json', 'protobuf', 'fields');
  if (printedAsResponse(ctx, res, [['roles', names(res.roles)]], fields)) return;
  for (const r of res.roles) line(r);
}

const PERM_TYPES: Record<string, Permission_Type> = {
  read: Permission_Type.READ,
  write: Permission_Type.WRITE,
  readwrite: Permission_Type.READWRITE,
};

export async function roleGrantPermission(
  ctx: Ctx,
  args: string[],
  prefix: boolean,
  fromKey: boolean,
): Promise<void> {
  const [role, type, key, end] = args;
  if (role === undefined || type === undefined || key === undefined) {
    throw new CtlError(
      'role grant command requires role name, permission type, and key [endkey] as its argument',
      Exit.badArgs,
    );
  }
  const permType = PERM_TYPES[type.toLowerCase()];
  if (permType === undefined) throw new CtlError(`invalid permission type ${type}`, Exit.badArgs);
  const res = await ctx.client().roleGrantPermission(role, permType, key, rangeScope(end, prefix, fromKey));
  if (printedAsResponse(ctx, res)) return;
  line(`Role ${role} updated`);
}

/** The range a permission covers, from the optional end key and the --prefix/--from-key flags. */
function rangeScope(end: string | undefined, prefix: boolean, fromKey: boolean) {
  if (end !== undefined && (prefix || fromKey))
    throw new CtlError('unexpected endkey argument with --prefix or --from-key', Exit.badArgs);
  if (prefix) return { prefix: true };
  if (fromKey) return { fromKey: true };
  return end !== undefined ? { rangeEnd: end } : {};
}

export async function roleRevokePermission(
  ctx: Ctx,
  args: string[],
  prefix: boolean,
  fromKey: boolean,
): Promise<void> {
  const [role, key, end] = args;
  if (role === undefined || key === undefined) {
    throw new CtlError(
      'role revoke-permission command requires role name and key [endkey] as its argument',
      Exit.badArgs,
    );
  }
  const scope = rangeScope(end, prefix, fromKey);
  const res = await ctx.client().roleRevokePermission(role, key, scope);
  if (printedAsResponse(ctx, res)) return;
  if (end === undefined && !prefix && !fromKey) line(`Permission of key ${key} is revoked from role ${role}`);
  else {
    const e = prefix ? dec.decode(prefixEnd(toBytes(key))) : fromKey ? '<open ended>' : (end as string);
    line(`Permission of range [${key}, ${e}) is revoked from role ${role}`);
  }
}
