#!/usr/bin/env bash
# start-loop.sh: starts kv clusters the way ../shared/bench/perf-compare does (3 and 1 members alternating,
# ports 31000 + 20 000 at random, every member pinned to CPU 1), checks each becomes healthy within 30 s,
# runs a short put load, stops it. Counts the starts that fail and keeps their data dirs and logs; for a
# member that could not bind a port, prints the sockets holding it (`ss`) right away. See docs/benchmarks.md
# "Starts that fail with EADDRINUSE" and "Session 20", item 5.
#
# Usage (repo root, after bin/setup; perf-compare builds /tmp/kvbench on its first run):
#   ITER=12 tools/bench/start-loop.sh
set -u
cd "$(dirname "$0")/../.."
BENCH=${KVBENCH:-/tmp/kvbench}
[ -x "$BENCH" ] || { echo "no $BENCH: run ../shared/bench/perf-compare once (it builds kvbench)"; exit 2; }
fails=0
for it in $(seq 1 ${ITER:-20}); do
  for MEMBERS in 3 1; do
    base=$((31000 + RANDOM % 2000 * 10)); ic=""; eps=""; PIDS=()
    TMP=$(mktemp -d /tmp/startloop-XXXX)
    for i in $(seq 1 $MEMBERS); do ic="$ic${ic:+,}m$i=http://127.0.0.1:$((base+2*i+1))"; done
    for i in $(seq 1 $MEMBERS); do c=$((base+2*i)); p=$((base+2*i+1))
      (exec setsid taskset -c 1 bin/kv-server --name m$i --data-dir $TMP/m$i --listen-client-urls http://127.0.0.1:$c --advertise-client-urls http://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p --initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster $ic --initial-cluster-token perf --initial-cluster-state new > $TMP/m$i.log 2>&1) &
      PIDS+=($!); eps="$eps${eps:+,}127.0.0.1:$c"; done
    ok= holder= port=
    for _ in $(seq 1 150); do
      etcdctl --endpoints=$eps --command-timeout=1s endpoint health >/dev/null 2>&1 && { ok=1; break; }
      # A member that could not bind: record at once what holds the port (docs/benchmarks.md "Session 20",
      # item 5: TIME_WAIT sockets of connections closed in the last 60 s).
      port=$(grep -ho 'EADDRINUSE: address already in use [0-9.]*:[0-9]*' $TMP/m*.log 2>/dev/null | head -1 | sed 's/.*://')
      if [ -n "$port" ]; then holder=$(ss -tanpo | grep ":$port " | tr -s ' '); break; fi
      sleep 0.2
    done
    taskset -c 0 $BENCH -endpoints $eps -mode put -clients 10 -conns 2 -total 500 >/dev/null 2>&1
    for p in "${PIDS[@]}"; do kill -TERM -- -$p 2>/dev/null; done; wait 2>/dev/null
    if [ -z "$ok" ]; then
      fails=$((fails+1)); echo "FAIL it=$it members=$MEMBERS dir=$TMP${port:+ EADDRINUSE on $port}"
      [ -n "$holder" ] && echo "  held by: $holder"
    else rm -rf $TMP; fi
  done
done
echo "fails=$fails of $(( ${ITER:-20} * 2 ))"
