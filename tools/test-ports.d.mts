/**
 * A loopback port that nothing is bound to and no other test process holds; it stays reserved for this
 * process until it exits (so a member can be stopped and started again on it). See test-ports.mjs.
 *
 * @example
 * const clientPort = await freePort();
 */
export function freePort(): Promise<number>;
