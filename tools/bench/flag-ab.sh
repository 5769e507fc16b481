#!/usr/bin/env bash
# flag-ab.sh: node/V8 flag sets A/B'd through put-path.sh, alternating with the default each round, so
# machine drift hits every variant alike. Prints kvbench's qps and p99 and the CPU per request summed
# over members (main thread, V8 helper threads). See docs/benchmarks.md "Session 8".
#
# Usage (repo root): tools/bench/flag-ab.sh ROUNDS "FLAGS A" ["FLAGS B" ...]
#   tools/bench/flag-ab.sh 2 "--single-threaded-gc" "--no-concurrent-recompilation"
#   PP_ARGS='-n 1 -- -mode put -clients 1 -conns 1 -total 1000' tools/bench/flag-ab.sh 3 "--single-threaded"
set -u
cd "$(dirname "$0")/../.."
ROUNDS=$1
shift
for _ in $(seq 1 "$ROUNDS"); do
  for f in "" "$@"; do
    # shellcheck disable=SC2086
    out=$(KV_NODE_FLAGS="$f" tools/bench/put-path.sh ${PP_ARGS:--- -mode put -clients 100 -conns 10 -total 20000} 2>&1)
    printf '%-60s %s %s %s | main %s | v8 helpers %s | load %s\n' "[${f:-default}]" \
      "$(grep -o 'qps=[0-9]*' <<<"$out")" "$(grep -o 'p99=[0-9.]*ms' <<<"$out")" \
      "$(grep -o 'total [0-9]* us' <<<"$out")" "$(grep 'main  ' <<<"$out" | grep -o 'user *[0-9]* us')" \
      "$(grep 'v8-workers' <<<"$out" | grep -o 'user *[0-9]* us')" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
