#!/usr/bin/env node
// kvctl entry point. The command surface (etcdctl's) is not implemented yet; until it is, say so
// clearly and point at etcdctl, which works against kv-server unchanged.
process.stderr.write('kvctl: not implemented yet; use etcdctl (ETCDCTL_API=3) against kv-server meanwhile\n');
process.exitCode = 1;
