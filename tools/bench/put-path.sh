#!/usr/bin/env bash
# put-path.sh: where a put's CPU goes on an N-member cluster of one server, under Go clientv3 load.
#
# Starts N members of CMD (default bin/kv-server; `etcd` works too) pinned to CPU 1 like
# ../shared/bench/perf-compare, optionally warms them up, then drives one kvbench run from CPU 0 and
# prints kvbench's line plus, per request and summed over the members, user/system CPU split by
# thread group and the context switches. Counters come from /proc, so they hold up on a busy machine
# better than throughput does. See docs/benchmarks.md, "3-member put path".
#
# Usage (repo root, after bin/setup; perf-compare builds /tmp/kvbench on its first run):
#   tools/bench/put-path.sh [-n MEMBERS] [-w WARM_REQUESTS] [-W 'kvbench args for warm-up'] \
#                           [--strace] [--perf] [--keep] [CMD] -- KVBENCH ARGS
#   tools/bench/put-path.sh -- -mode put -clients 1 -conns 1 -total 1000            # cold, like put1
#   tools/bench/put-path.sh -w 2000 -- -mode put -clients 1 -conns 1 -total 2000     # warmed JIT
#   tools/bench/put-path.sh -w 6000 -W '-mode put -clients 100 -conns 10' -- -mode put -clients 100 -conns 10 -total 20000
#   tools/bench/put-path.sh --strace etcd -- -mode put -clients 1 -conns 1 -total 1000  # syscalls per member
#   tools/bench/put-path.sh --perf 'node --max-semi-space-size=64 --perf-basic-prof packages/server/dist/main.js' -- ...
#   PERF_EVENT='-e page-faults -c 1' KV_NODE_FLAGS=--perf-basic-prof tools/bench/put-path.sh --perf -- ...  # where page faults come from
#   tools/bench/put-path.sh --metrics 'wal_fsync_duration_seconds_count|proposals_committed' etcd -- ...  # /metrics lines after the load
# Thread groups of a node member: t0 = main (JS), t2-t5 = V8 platform workers (GC helpers and
# concurrent compilation), t7+ = libuv's pool (fs calls, LevelDB). For etcd they are just Go threads.
set -u
MEMBERS=3; WARM=0; WARMARGS="-mode put -clients 1 -conns 1"; STRACE=; PERF=; KEEP=; METRICS=; CMD="bin/kv-server"
while [ $# -gt 0 ]; do case $1 in
  -n) MEMBERS=$2; shift 2;; -w) WARM=$2; shift 2;; -W) WARMARGS=$2; shift 2;;
  --strace) STRACE=1; shift;; --perf) PERF=1; shift;; --keep) KEEP=1; shift;; --metrics) METRICS=$2; shift 2;;
  --) shift; break;; *) CMD=$1; shift;; esac; done
ARGS="$*"
BENCH=${KVBENCH:-/tmp/kvbench}
[ -x "$BENCH" ] || { echo "no $BENCH: run ../shared/bench/perf-compare once (it builds kvbench)"; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Ports below the ephemeral range (32768+), so outgoing connections cannot take them first.
base=$((21000 + RANDOM % 800 * 10)); ic=""; eps=""; PIDS=()
TMP=$(mktemp -d /tmp/put-path-XXXX)
for i in $(seq 1 "$MEMBERS"); do ic="$ic${ic:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"; done
for i in $(seq 1 "$MEMBERS"); do
  c=$((base + 2 * i)); p=$((base + 2 * i + 1))
  (cd "$ROOT" && exec setsid taskset -c 1 $CMD --name m$i --data-dir $TMP/m$i --listen-client-urls http://127.0.0.1:$c \
    --advertise-client-urls http://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p \
    --initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster $ic --initial-cluster-token perf \
    --initial-cluster-state new >$TMP/m$i.log 2>&1) &
  PIDS+=($!); eps="$eps${eps:+,}127.0.0.1:$c"
done
healthy=
for _ in $(seq 1 150); do
  etcdctl --endpoints=$eps --command-timeout=1s endpoint health >/dev/null 2>&1 && { healthy=1; break; }; sleep 0.2
done
[ -n "$healthy" ] || { echo "cluster did not become healthy; see $TMP"; for p in "${PIDS[@]}"; do kill -TERM -- -$p; done; exit 1; }
[ "$WARM" -gt 0 ] && taskset -c 0 "$BENCH" -endpoints $eps $WARMARGS -total "$WARM" >/dev/null 2>&1
threads() { # pid, thread index, utime, stime, context switches
  for s in "${PIDS[@]}"; do for p in $(ps -s $s -o pid= 2>/dev/null); do i=0
    for t in $(ls /proc/$p/task | sort -n); do
      echo "$p t$i $(awk '{print $14, $15}' /proc/$p/task/$t/stat) $(awk '/ctxt_switches/{s+=$2} END{print s}' /proc/$p/task/$t/status)"
      i=$((i + 1)); done; done; done
}
TRACERS=()
if [ -n "$STRACE" ]; then for s in "${PIDS[@]}"; do
  strace -c -f -p $s -o $TMP/strace.$s 2>/dev/null & TRACERS+=($!); done; sleep 1; fi
if [ -n "$PERF" ]; then pl=$(IFS=,; echo "${PIDS[*]}")
  perf record ${PERF_EVENT:--F 1999} -g -p $pl -o $TMP/perf.data 2>/dev/null & TRACERS+=($!); sleep 1; fi
threads >$TMP/before
OUT=$(taskset -c 0 "$BENCH" -endpoints $eps $ARGS 2>&1 | tail -1)
threads >$TMP/after
for t in "${TRACERS[@]}"; do kill -INT $t; wait $t 2>/dev/null; done
echo "$OUT"
n=$(echo "$OUT" | sed -n 's/.*total=\([0-9]*\).*/\1/p')
python3 - $TMP/before $TMP/after "${n:-0}" <<'PY'
import collections, sys
def load(f):
    d = {}
    for line in open(f):
        p, t, u, s, x = line.split()
        d[(p, t)] = (int(u), int(s), int(x))
    return d
b, a, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
if n == 0: sys.exit("no requests completed")
groups = collections.defaultdict(lambda: [0, 0]); switches = 0
for k, (u, s, x) in a.items():
    u0, s0, x0 = b.get(k, (0, 0, 0)); i = int(k[1][1:]); switches += x - x0
    g = 'main' if i == 0 else 'v8-workers(t2-5)' if 2 <= i <= 5 else 'libuv-pool(t7+)' if i >= 7 else k[1]
    groups[g][0] += u - u0; groups[g][1] += s - s0
us = lambda ticks: ticks * 1e6 / 100 / n  # 100 ticks per second
tu = sum(v[0] for v in groups.values()); ts = sum(v[1] for v in groups.values())
print("per request, summed over members: user %.0f us, sys %.0f us, total %.0f us; context switches %.1f"
      % (us(tu), us(ts), us(tu + ts), switches / n))
for g, (u, s) in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
    if u + s: print("  %-18s user %6.0f us  sys %6.0f us" % (g, us(u), us(s)))
members = collections.defaultdict(int)  # process id -> ticks, in start order (m1 first)
for k, (u, s, x) in a.items():
    u0, s0, x0 = b.get(k, (0, 0, 0)); members[k[0]] += u - u0 + s - s0
print("  per member (start order): " + ", ".join("%.0f us" % us(v) for _, v in sorted(members.items(), key=lambda kv: int(kv[0]))))
PY
if [ -n "$METRICS" ]; then for e in ${eps//,/ }; do echo "== /metrics of $e"
  curl -s "http://$e/metrics" | grep -v '^#' | grep -E "$METRICS"; done; fi
if [ -n "$STRACE" ]; then for f in $TMP/strace.*; do echo "== syscalls of member session ${f##*.}"; sed -n '1,20p' $f; done; fi
for p in "${PIDS[@]}"; do kill -TERM -- -$p 2>/dev/null; done
for p in "${PIDS[@]}"; do wait $p 2>/dev/null; done
if [ -n "$KEEP$PERF" ]; then echo "kept $TMP (perf: perf report -i $TMP/perf.data)"; else rm -rf "$TMP"; fi
