#!/usr/bin/env bash
# gc-survival.sh: how much of what a server allocates survives V8's young-generation collections
# (scavenges), and how long those pause it, under Go clientv3 load (docs/benchmarks.md "Session 9",
# section 4). Survivors are copied, and promoted at their second scavenge; on one pinned core every
# scavenge stops the event loop for its whole length, which is what sets kv's p99.
#
# Usage (repo root, after bin/setup; needs /tmp/kvbench, see put-path.sh):
#   tools/bench/gc-survival.sh server 'KVBENCH ARGS' ['NODE FLAGS']
#     one kv-server member (put-path.sh -n 1): 20 000 requests of the same kind to warm up, then 60 000
#     e.g. tools/bench/gc-survival.sh server '-mode put -clients 100 -conns 10'
#   tools/bench/gc-survival.sh ceiling [sync|micro|async|immediate]
#     kv's gRPC layer alone (transport-ceiling.mjs kv, canned Range answers) under serializable ranges,
#     answering in the read callback (sync) or later: a microtask, an async function, setImmediate
# Prints kvbench's line and the average of the last 8 scavenges (V8's --trace-gc-nvp fields).
set -u
cd "$(dirname "$0")/../.."
BENCH=${KVBENCH:-/tmp/kvbench}
summary() { # stdin: trace-gc-nvp lines
  grep "gc=s" | tail -8 | tr ' ' '\n' | grep -E "^(pause|allocated|new_space_survived|promoted)=" | awk -F= '
    { s[$1] += $2; n[$1]++ }
    END { printf "scavenges: pause %.1f ms, allocated %.1f MB, survived %.2f MB (%.0f %%), promoted %.2f MB\n",
      s["pause"] / n["pause"], s["allocated"] / n["allocated"] / 1e6, s["new_space_survived"] / n["new_space_survived"] / 1e6,
      100 * s["new_space_survived"] / s["allocated"], s["promoted"] / n["promoted"] / 1e6 }'
}
case ${1:-} in
  server)
    out=$(KV_NODE_FLAGS="--trace-gc-nvp ${3:-}" tools/bench/put-path.sh --keep -n 1 -w 20000 -W "$2" -- $2 -total 60000 2>&1)
    head -1 <<<"$out"
    dir=$(sed -n 's/^kept \([^ ]*\) .*/\1/p' <<<"$out")
    summary <"$dir/m1.log"
    rm -rf "$dir"
    ;;
  ceiling)
    port=$((22000 + RANDOM % 500 * 2)); log=$(mktemp /tmp/gc-survival-XXXX)
    KV_TC_ANSWER=${2:-sync} setsid taskset -c 1 node --max-semi-space-size=64 --trace-gc-nvp \
      tools/bench/transport-ceiling.mjs kv $port >"$log" 2>&1 &
    pid=$!; sleep 1.5
    taskset -c 0 "$BENCH" -endpoints 127.0.0.1:$port -mode srange -clients 100 -conns 10 -total 40000 >/dev/null 2>&1
    n0=$(wc -l <"$log")
    taskset -c 0 "$BENCH" -endpoints 127.0.0.1:$port -mode srange -clients 100 -conns 10 -total 60000 | tail -1
    kill $pid; sleep 0.3
    tail -n +"$n0" "$log" | summary
    rm -f "$log"
    ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
