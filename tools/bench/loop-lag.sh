#!/usr/bin/env bash
# loop-lag.sh: what holds a fresh single member's event loop up under Go clientv3 load. Starts one
# member of CMD (default bin/kv-server) pinned to CPU 1 with tools/bench/loop-lag.cjs preloaded, samples
# its threads' CPU from CPU 0 (tools/bench/thread-cpu.mjs), runs one kvbench load and prints
# tools/bench/loop-lag-report.mjs: late turns, GC pauses and which threads ran during each long turn
# (docs/benchmarks.md "Session 20", item 2).
# Usage (repo root, after bin/setup; needs /tmp/kvbench, see put-path.sh):
#   tools/bench/loop-lag.sh [CMD] -- -mode put -clients 100 -conns 10 -total 20000
#   KV_LAG_MS=1.5 LONG=2 tools/bench/loop-lag.sh -- -mode put -clients 1 -conns 1 -total 1000
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
CMD="$HERE/bin/kv-server"
while [ $# -gt 0 ]; do case $1 in --) shift; break;; *) CMD=$1; shift;; esac; done
BENCH=${KVBENCH:-/tmp/kvbench}
[ -x "$BENCH" ] || { echo "no $BENCH: run ../shared/bench/perf-compare once (it builds kvbench)"; exit 2; }
TMP=$(mktemp -d /tmp/loop-lag-XXXX)
port=$((21000 + RANDOM % 800 * 10))
KV_LAG_OUT=$TMP/lag.json KV_NODE_FLAGS="--require $HERE/tools/bench/loop-lag.cjs" setsid taskset -c 1 "$CMD" \
  --data-dir "$TMP/data" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" >"$TMP/server.log" 2>&1 &
sid=$!
for _ in $(seq 1 100); do etcdctl --endpoints=127.0.0.1:$port endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
pid=$(pgrep -s $sid -f main.js | head -1)
[ -n "$pid" ] || { echo "server did not start; see $TMP/server.log"; kill -TERM -- -$sid 2>/dev/null; exit 1; }
taskset -c 0 node "$HERE/tools/bench/thread-cpu.mjs" "$pid" "$TMP/threads.json" &
sampler=$!
sleep 0.5
t0=$(date +%s%3N)
taskset -c 0 "$BENCH" -endpoints 127.0.0.1:$port "${@:--mode put -clients 100 -conns 10 -total 20000}" | tail -1
t1=$(date +%s%3N)
kill -TERM $sampler; wait $sampler 2>/dev/null
kill -TERM -- -$sid; for _ in $(seq 1 50); do [ -s "$TMP/lag.json" ] && break; sleep 0.1; done; sleep 0.5
node "$HERE/tools/bench/loop-lag-report.mjs" "$TMP/lag.json" "$TMP/threads.json" "$t0" "$t1" "${LONG:-8}"
rm -rf "$TMP"
