/** lock and elect on etcd's v3lock / v3election services, each held by a kept-alive 60 s lease. */
import { spawn } from 'node:child_process';
import type { Ctx } from '../context.js';
import { encodeRangeResponse } from '../protobuf.js';
import { CtlError, Exit, out } from '../util.js';
import { printGet } from './kv.js';

const SESSION_TTL = 60;

/**
 * An abort signal raised by SIGINT/SIGTERM, armed when the command starts: an interrupt while still
 * waiting for the lock or leadership must also give the session lease back (as etcdctl does), not
 * leave it to expire after 60 s with the waiter's key in the queue.
 */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  // `on`, not `once`: coreutils' `timeout` sends SIGTERM to the command and then to its whole process
  // group, so the command can get it twice. With `once`, a second signal that arrived after the first
  // was handled found no listener and killed the process before it gave the lock back (its key and
  // lease then held the lock for 60 s). Later signals are ignored, as etcdctl's signal.Notify does.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return ac.signal;
}

/** Resolves once `signal` is aborted (how a held lock or leadership is given up). */
function until(signal: AbortSignal): Promise<void> {
  return signal.aborted
    ? Promise.resolve()
    : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** An interrupted wait fails as etcdctl's does (`context canceled`); other failures pass through. */
const canceledBy =
  (signal: AbortSignal) =>
  (e: unknown): never => {
    if (signal.aborted) throw new CtlError('context canceled');
    throw e;
  };

/** Wait without a deadline (waiting is the point of the command) until interrupted. */
const waitOpts = (signal: AbortSignal) => ({ timeoutMs: 2 ** 31 - 1, signal });

export async function lock(ctx: Ctx, name: string | undefined, command: string[]): Promise<void> {
  if (name === undefined)
    throw new CtlError('lock takes a lock name argument and an optional command to execute', Exit.badArgs);
  const interrupted = interruptSignal();
  const c = ctx.client();
  const { ID } = await c.grant(SESSION_TTL);
  const ka = await c.keepAlive(ID);
  try {
    const held = await c.lock(name, ID, waitOpts(interrupted)).catch(canceledBy(interrupted));
    if (command.length > 0) {
      const env = {
        ...process.env,
        ETCD_LOCK_KEY: new TextDecoder().decode(held.key),
        ETCD_LOCK_REV: String(held.header?.revision ?? 0),
      };
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(command[0] as string, command.slice(1), { stdio: 'inherit', env });
        child.once('error', reject);
        child.once('exit', (c) => resolve(c ?? 1));
      });
      await c.unlock(held.key);
      if (code !== 0) process.exitCode = code;
      return;
    }
    // etcdctl reads the lock key back and prints it as `get` would, in the chosen format.
    const got = await c.get(held.key);
    if (got.kvs.length === 0) throw new CtlError('lock lost on init');
    printGet(ctx, got);
    await until(interrupted);
    await c.unlock(held.key);
  } finally {
    ka.close();
    await c.revoke(ID).catch(() => undefined);
  }
}

export async function elect(
  ctx: Ctx,
  name: string | undefined,
  proposal: string | undefined,
  listen: boolean,
): Promise<void> {
  if (name === undefined)
    throw new CtlError(
      'elect takes one election name argument and an optional proposal argument',
      Exit.badArgs,
    );
  const c = ctx.client();
  if (listen) {
    // Each observed leader prints as `get` would print it (etcdctl's display.Get).
    for await (const res of await c.observe(name)) {
      if (!res.kv) continue;
      if (ctx.format === 'protobuf') out(encodeRangeResponse(res.header, [res.kv], false, 0));
      else printGet(ctx, { header: res.header, kvs: [res.kv], more: false, count: 0 });
    }
    return;
  }
  if (proposal === undefined) throw new CtlError('no proposal argument but -l not set', Exit.badArgs);
  const interrupted = interruptSignal();
  const { ID } = await c.grant(SESSION_TTL);
  const ka = await c.keepAlive(ID);
  try {
    const won = await c.campaign(name, ID, proposal, waitOpts(interrupted)).catch(canceledBy(interrupted));
    // etcdctl reads the leader key back and prints it as `get` would.
    printGet(ctx, await c.get(won.leader?.key ?? new Uint8Array()));
    await until(interrupted);
    if (won.leader) await c.resign(won.leader);
  } finally {
    ka.close();
    await c.revoke(ID).catch(() => undefined);
  }
}
