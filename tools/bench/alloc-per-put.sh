#!/usr/bin/env bash
# alloc-per-put.sh: bytes kv-server members allocate per put under Go clientv3 load, young-generation
# garbage included (tools/bench/alloc-sample.cjs + alloc-report.mjs), per member.
# Usage (repo root, after bin/setup; needs /tmp/kvbench, see put-path.sh):
#   tools/bench/alloc-per-put.sh [-n MEMBERS] [ROOT] [-- KVBENCH ARGS]
# ROOT: the checkout whose bin/kv-server runs (default: this one), e.g. /work/main for an A/B.
# KEEP=1 keeps the profiles (their directory is printed).
# Default load: 6 000 warm-up puts, then 10 000 sampled puts, 100 clients on 10 connections. With
# several members the load goes to all endpoints (clientv3 balances); each member's report says
# whether it was the leader (its log has raft's "became leader").
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
MEMBERS=1; [ "${1:-}" = "-n" ] && { MEMBERS=$2; shift 2; }
ROOT=$HERE; [ $# -gt 0 ] && [ "$1" != "--" ] && { ROOT=$1; shift; }
[ "${1:-}" = "--" ] && shift
ARGS=${*:-"-mode put -clients 100 -conns 10"}
BENCH=${KVBENCH:-/tmp/kvbench}
TMP=$(mktemp -d /tmp/alloc-put-XXXX)
base=$((21000 + RANDOM % 800 * 10)); ic=""; eps=""; PIDS=()
for i in $(seq 1 "$MEMBERS"); do ic="$ic${ic:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"; done
for i in $(seq 1 "$MEMBERS"); do
  c=$((base + 2 * i)); p=$((base + 2 * i + 1))
  KV_ALLOC_PROFILE=$TMP/profile.m$i KV_NODE_FLAGS="--require $HERE/tools/bench/alloc-sample.cjs" \
    setsid taskset -c 1 "$ROOT/bin/kv-server" --name m$i --data-dir $TMP/m$i --listen-client-urls http://127.0.0.1:$c \
    --advertise-client-urls http://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p \
    --initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster $ic --initial-cluster-token alloc \
    --initial-cluster-state new >$TMP/m$i.log 2>&1 &
  PIDS+=($!); eps="$eps${eps:+,}127.0.0.1:$c"
done
for _ in $(seq 1 150); do etcdctl --endpoints=$eps --command-timeout=1s endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
taskset -c 0 "$BENCH" -endpoints $eps $ARGS -total 6000 >/dev/null 2>&1
for p in "${PIDS[@]}"; do kill -USR2 $p; done; sleep 0.5
OUT=$(taskset -c 0 "$BENCH" -endpoints $eps $ARGS -total 10000 2>&1 | tail -1)
for p in "${PIDS[@]}"; do kill -USR2 $p; done
for i in $(seq 1 "$MEMBERS"); do for _ in $(seq 1 50); do [ -s $TMP/profile.m$i ] && break; sleep 0.2; done; done
for p in "${PIDS[@]}"; do kill -TERM $p; done
for p in "${PIDS[@]}"; do wait $p 2>/dev/null; done
echo "$OUT"
for i in $(seq 1 "$MEMBERS"); do
  role=follower; grep -q "became leader" $TMP/m$i.log && role=leader
  [ "$MEMBERS" = 1 ] && role=single
  echo "== m$i ($role)"
  node "$HERE/tools/bench/alloc-report.mjs" $TMP/profile.m$i 10000 applyEntries handleReady | head -${TOP:-12}
done
if [ -n "${KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
