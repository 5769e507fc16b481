/** auth enable|disable|status, user ..., role ... with etcdctl's messages. */
import { prefixEnd, toBytes } from '@kv/client';
import { type Permission, Permission_Type } from '@kv/client/api';
import type { Ctx } from '../context.js';
import { CtlError, Exit, line } from '../util.js';
import { readStdin } from './kv.js';

export async function authEnable(ctx: Ctx): Promise<void> {
  await ctx.client().authEnable();
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
  await ctx.client().userAdd(name, password, { noPassword });
  if (ctx.printedProtobuf()) return;
  line(`User ${name} created`);
}

export async function userDelete(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('user delete command requires user name as its argument', Exit.badArgs);
  await ctx.client().userDelete(name);
  if (ctx.printedProtobuf()) return;
  line(`User ${name} deleted`);
}

export async function userPasswd(ctx: Ctx, name: string | undefined, interactive: boolean): Promise<void> {
  if (name === undefined)
    throw new CtlError('user passwd command requires user name as its argument', Exit.badArgs);
  const { password } = await passwordOf(name, interactive);
  await ctx.client().userChangePassword(name, password);
  if (ctx.printedProtobuf()) return;
  line('Password updated');
}

export async function userGet(ctx: Ctx, name: string | undefined, detail: boolean): Promise<void> {
  if (name === undefined)
    throw new CtlError('user get command requires user name as its argument', Exit.badArgs);
  const res = await ctx.client().userGet(name);
  if (ctx.printedProtobuf()) return;
  line(`User: ${name}`);
  if (!detail) {
    line(`Roles: ${res.roles.join(' ')}`);
    return;
  }
  for (const role of res.roles) {
    line();
    const r = await ctx.client().roleGet(role);
    printRole(role, r.perm);
  }
}

export async function userList(ctx: Ctx): Promise<void> {
  const res = await ctx.client().userList();
  if (ctx.printedProtobuf()) return;
  for (const u of res.users) line(u);
}

export async function userGrantRole(
  ctx: Ctx,
  user: string | undefined,
  role: string | undefined,
): Promise<void> {
  if (user === undefined || role === undefined)
    throw new CtlError('user grant command requires user name and role name as its argument', Exit.badArgs);
  await ctx.client().userGrantRole(user, role);
  if (ctx.printedProtobuf()) return;
  line(`Role ${role} is granted to user ${user}`);
}

export async function userRevokeRole(
  ctx: Ctx,
  user: string | undefined,
  role: string | undefined,
): Promise<void> {
  if (user === undefined || role === undefined)
    throw new CtlError('user revoke-role requires user name and role name as its argument', Exit.badArgs);
  await ctx.client().userRevokeRole(user, role);
  if (ctx.printedProtobuf()) return;
  line(`Role ${role} is revoked from user ${user}`);
}

export async function roleAdd(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('role add command requires role name as its argument', Exit.badArgs);
  await ctx.client().roleAdd(name);
  if (ctx.printedProtobuf()) return;
  line(`Role ${name} created`);
}

export async function roleDelete(ctx: Ctx, name: string | undefined): Promise<void> {
  if (name === undefined)
    throw new CtlError('role delete command requires role name as its argument', Exit.badArgs);
  await ctx.client().roleDelete(name);
  if (ctx.printedProtobuf()) return;
  line(`Role ${name} deleted`);
}

const dec = new TextDecoder();

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
  const res = await ctx.client().roleGet(name);
  if (ctx.printedProtobuf()) return;
  printRole(name, res.perm);
}

export async function roleList(ctx: Ctx): Promise<void> {
  const res = await ctx.client().roleList();
  if (ctx.printedProtobuf()) return;
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
  await ctx.client().roleGrantPermission(role, permType, key, rangeScope(end, prefix, fromKey));
  if (ctx.printedProtobuf()) return;
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
  await ctx.client().roleRevokePermission(role, key, scope);
  if (ctx.printedProtobuf()) return;
  if (end === undefined && !prefix && !fromKey) line(`Permission of key ${key} is revoked from role ${role}`);
  else {
    const e = prefix ? dec.decode(prefixEnd(toBytes(key))) : fromKey ? '<open ended>' : (end as string);
    line(`Permission of range [${key}, ${e}) is revoked from role ${role}`);
  }
}
