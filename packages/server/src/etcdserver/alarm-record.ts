/**
 * An active alarm as kv keeps it in its `alarm` bucket: JSON `{memberID, alarm}` keyed by
 * `<memberID>/<alarm>`. The member id is written as a decimal string so it stays exact (uint64);
 * records written by older versions hold it as a JSON number and still read back.
 */
import { toId } from './member-id.js';

/** One alarm: which member raised it and what (etcd's AlarmMember; AlarmType numbering). */
export interface AlarmRecord {
  memberID: bigint;
  alarm: number;
}

/** The bucket key of an alarm. */
export const alarmKey = (a: AlarmRecord): string => `${a.memberID}/${a.alarm}`;

/**
 * The bucket value of an alarm.
 *
 * @example
 * ```ts
 * store.putMeta('alarm', Buffer.from(alarmKey(a)), encodeAlarmRecord(a), ctx);
 * ```
 */
export function encodeAlarmRecord(a: AlarmRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ memberID: a.memberID.toString(), alarm: a.alarm }));
}

/** Reads a bucket value (either id spelling); throws on a value that is not an alarm. */
export function decodeAlarmRecord(value: Uint8Array): AlarmRecord {
  const j = JSON.parse(new TextDecoder().decode(value)) as { memberID?: unknown; alarm?: unknown };
  return { memberID: toId(j.memberID ?? 0), alarm: Number(j.alarm ?? 0) };
}
