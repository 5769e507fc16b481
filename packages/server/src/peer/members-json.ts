/** The member list as etcd's peer `/members` endpoint writes it: a JSON array of members. */
import { parseJsonExact, stringifyJsonExact } from '../etcdserver/exact-json.js';
import { type Member, memberFromJson, memberToJson } from '../etcdserver/membership.js';

/** Encodes members as etcd's `/members` answer (ids as bare uint64 numbers, as Go writes them). */
export function membersJson(members: readonly Member[]): string {
  return `${stringifyJsonExact(members.map(memberToJson))}\n`;
}

/** Parses etcd's `/members` answer, ids exact; throws on anything that is not a member array. */
export function parseMembersJson(text: string): Member[] {
  const arr = parseJsonExact(text);
  if (!Array.isArray(arr)) throw new Error('members answer is not an array');
  return arr.map((j) => memberFromJson(j as Record<string, unknown>));
}
