/**
 * etcd's transport flags as kv parses them (`--max-concurrent-streams`, `--grpc-keepalive-min-time`,
 * `--grpc-keepalive-interval`, `--grpc-keepalive-timeout`): defaults, values and etcd's refusals
 * (checked against etcd 3.4.23). What the transport does with them is in h2-abuse.test.ts and
 * h2-gateway.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { grpcTransportLimits } from '../src/api/grpc-server.js';
import { ConfigError, parseArgs } from '../src/config/parse.js';

const run = (argv: string[]) => {
  const out = parseArgs(argv, {});
  if (out.action !== 'run') throw new Error(`unexpected ${out.action}`);
  return out.config;
};

describe('transport flags', () => {
  it("defaults to etcd's: math.MaxUint32 streams, 5s / 2h / 20s keep-alive", () => {
    const c = run([]);
    expect(c.maxConcurrentStreams).toBe(4294967295);
    expect([c.grpcKeepaliveMinTimeMs, c.grpcKeepaliveIntervalMs, c.grpcKeepaliveTimeoutMs]).toEqual([
      5000,
      2 * 3600_000,
      20_000,
    ]);
  });

  it('takes values', () => {
    const c = run([
      '--max-concurrent-streams',
      '100',
      '--grpc-keepalive-min-time=1s',
      '--grpc-keepalive-interval',
      '30s',
      '--grpc-keepalive-timeout',
      '500ms',
    ]);
    expect(c.maxConcurrentStreams).toBe(100);
    expect([c.grpcKeepaliveMinTimeMs, c.grpcKeepaliveIntervalMs, c.grpcKeepaliveTimeoutMs]).toEqual([
      1000, 30_000, 500,
    ]);
  });

  it("refuses what etcd refuses, with etcd's message", () => {
    expect(() => run(['--max-concurrent-streams', '5000000000'])).toThrow(
      new ConfigError(
        'invalid value "5000000000" for flag -max-concurrent-streams: strconv.ParseUint: parsing "5000000000": value out of range',
      ),
    );
    expect(() => run(['--max-concurrent-streams', '-1'])).toThrow(
      'invalid value "-1" for flag -max-concurrent-streams: strconv.ParseUint: parsing "-1": invalid syntax',
    );
    expect(() => run(['--grpc-keepalive-interval', 'soon'])).toThrow(ConfigError);
  });

  it('reaches the transport as etcd 3.4 hands the flags to grpc-go', () => {
    expect(
      grpcTransportLimits(run(['--max-concurrent-streams', '7', '--grpc-keepalive-min-time', '2s'])),
    ).toEqual({
      maxConcurrentStreams: 7,
      keepaliveMinTimeMs: 2000,
      keepaliveIntervalMs: 2 * 3600_000,
      keepaliveTimeoutMs: 20_000,
    });
    expect(
      grpcTransportLimits(run(['--grpc-keepalive-interval', '1s', '--grpc-keepalive-timeout', '3s'])),
    ).toMatchObject({
      keepaliveIntervalMs: 1000,
      keepaliveTimeoutMs: 3000,
    });
    // etcd passes no KeepaliveParams when either is 0: grpc-go's defaults (2 h, 20 s) apply.
    expect(
      grpcTransportLimits(run(['--grpc-keepalive-interval', '0s', '--grpc-keepalive-timeout', '3s'])),
    ).toMatchObject({
      keepaliveIntervalMs: 2 * 3600_000,
      keepaliveTimeoutMs: 20_000,
    });
  });
});
