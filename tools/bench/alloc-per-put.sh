#!/usr/bin/env bash
# alloc-per-put.sh: bytes a single kv-server member allocates per put under Go clientv3 load, young-
# generation garbage included (tools/bench/alloc-sample.cjs + alloc-report.mjs).
# Usage (repo root, after bin/setup; needs /tmp/kvbench, see put-path.sh):
#   tools/bench/alloc-per-put.sh [ROOT] [-- KVBENCH ARGS]
# ROOT: the checkout whose bin/kv-server runs (default: this one), e.g. /work/main for an A/B.
# KEEP=1 keeps the profile (its path is printed).
# Default load: 6 000 warm-up puts, then 10 000 sampled puts, 100 clients on 10 connections.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=$HERE; [ $# -gt 0 ] && [ "$1" != "--" ] && { ROOT=$1; shift; }
[ "${1:-}" = "--" ] && shift
ARGS=${*:-"-mode put -clients 100 -conns 10"}
BENCH=${KVBENCH:-/tmp/kvbench}
TMP=$(mktemp -d /tmp/alloc-put-XXXX)
c=$((21000 + RANDOM % 800 * 10)); p=$((c + 1))
KV_ALLOC_PROFILE=$TMP/profile KV_NODE_FLAGS="--require $HERE/tools/bench/alloc-sample.cjs" \
  setsid taskset -c 1 "$ROOT/bin/kv-server" --name m1 --data-dir $TMP/m1 --listen-client-urls http://127.0.0.1:$c \
  --advertise-client-urls http://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p \
  --initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster m1=http://127.0.0.1:$p >$TMP/log 2>&1 &
PID=$!
for _ in $(seq 1 150); do etcdctl --endpoints=127.0.0.1:$c endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
taskset -c 0 "$BENCH" -endpoints 127.0.0.1:$c $ARGS -total 6000 >/dev/null 2>&1
kill -USR2 $PID; sleep 0.5
OUT=$(taskset -c 0 "$BENCH" -endpoints 127.0.0.1:$c $ARGS -total 10000 2>&1 | tail -1)
kill -USR2 $PID
for _ in $(seq 1 50); do [ -s $TMP/profile ] && break; sleep 0.2; done
kill -TERM $PID; wait $PID 2>/dev/null
echo "$OUT"
node "$HERE/tools/bench/alloc-report.mjs" $TMP/profile 10000 applyEntries applyEntry handleReady handleUnary
if [ -n "${KEEP:-}" ]; then echo "kept $TMP/profile"; else rm -rf "$TMP"; fi
