/** The member list as etcd's peer `/members` endpoint writes it: a JSON array of members. */
import { type Member, memberFromJson, memberToJson } from '../etcdserver/membership.js';

/** Encodes members as etcd's `/members` answer. */
export function membersJson(members: readonly Member[]): string {
  return `${JSON.stringify(members.map(memberToJson))}\n`;
}

/** Parses etcd's `/members` answer; throws on anything that is not a member array. */
export function parseMembersJson(text: string): Member[] {
  const arr = JSON.parse(text) as unknown;
  if (!Array.isArray(arr)) throw new Error('members answer is not an array');
  return arr.map((j) => memberFromJson(j as Record<string, unknown>));
}
