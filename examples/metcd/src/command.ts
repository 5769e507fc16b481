/**
 * The state-machine commands metcd puts in raft entries, and their binary encoding. A command carries the
 * id of the request that proposed it, so the member that proposed it can answer its client once the
 * entry is applied (any member applies it; only the proposer has a waiting client).
 *
 * Layout: `[0] op (1 put, 2 delete) | [1,9) request id | [9,13) key length (u32 BE) | key | value`.
 */
import { randomBytes } from 'node:crypto';

/** A write to apply to the key-value state machine. */
export type Command =
  | { op: 'put'; requestId: string; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; requestId: string; key: Uint8Array };

const OP_PUT = 1;
const OP_DELETE = 2;
const HEADER = 13;

/** Thrown when entry data is not a command this version understands. */
export class CommandDecodeError extends Error {
  override readonly name = 'CommandDecodeError';
}

/**
 * Encodes a command as raft entry data.
 *
 * @example
 * ```ts
 * const data = encodeCommand({ op: 'put', requestId: '00000000000000ff', key: utf8('a'), value: utf8('1') });
 * node.propose(data);
 * ```
 */
export function encodeCommand(cmd: Command): Uint8Array {
  const value = cmd.op === 'put' ? cmd.value : new Uint8Array(0);
  const out = new Uint8Array(HEADER + cmd.key.length + value.length);
  const view = new DataView(out.buffer);
  out[0] = cmd.op === 'put' ? OP_PUT : OP_DELETE;
  out.set(requestIdBytes(cmd.requestId), 1);
  view.setUint32(9, cmd.key.length);
  out.set(cmd.key, HEADER);
  out.set(value, HEADER + cmd.key.length);
  return out;
}

/** Decodes entry data written by {@link encodeCommand}; throws {@link CommandDecodeError} otherwise. */
export function decodeCommand(data: Uint8Array): Command {
  if (data.length < HEADER) throw new CommandDecodeError(`command too short (${data.length} bytes)`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const keyLen = view.getUint32(9);
  if (HEADER + keyLen > data.length) throw new CommandDecodeError('command key runs past its end');
  const requestId = Buffer.from(data.subarray(1, 9)).toString('hex');
  const key = data.slice(HEADER, HEADER + keyLen);
  if (data[0] === OP_PUT) return { op: 'put', requestId, key, value: data.slice(HEADER + keyLen) };
  if (data[0] === OP_DELETE) return { op: 'delete', requestId, key };
  throw new CommandDecodeError(`unknown command op ${data[0]}`);
}

/** Request ids are 8 random bytes as 16 hex digits: unique enough across members and restarts. */
function requestIdBytes(id: string): Uint8Array {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new CommandDecodeError(`request id must be 16 hex digits: ${id}`);
  return Buffer.from(id, 'hex');
}

/** A fresh request id (8 random bytes, hex). */
export function newRequestId(): string {
  return randomBytes(8).toString('hex');
}
