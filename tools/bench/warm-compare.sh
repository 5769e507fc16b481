#!/usr/bin/env bash
# warm-compare.sh: perf-compare's side-by-side, but each server first serves --warm runs (default 3) of
# the same load before the measured one. ../shared/bench/perf-compare measures freshly started members; this
# tool measures members past their warm-up (for kv: past V8's JIT compiles), so the two together say
# how much of a gap is a cold start (docs/benchmarks.md, "Session 14").
#
# Same method as perf-compare: etcd and kv alternate, members pinned to CPU 1 and the Go clientv3 load
# (kvbench) to CPU 0, server CPU per request from /proc, medians over --rounds. Ports lie below the
# ephemeral range (see put-path.sh). The mode table is perf-compare's.
#
# Usage (repo root, after bin/setup; perf-compare builds /tmp/kvbench on its first run):
#   tools/bench/warm-compare.sh [--members 1|3|5] [--modes 'put1 put ...'] [--rounds N] [--warm RUNS] [--ours CMD]
#   tools/bench/warm-compare.sh --rounds 3
#   tools/bench/warm-compare.sh --members 3 --modes 'put txn' --rounds 3
set -u
cd "$(dirname "$0")/../.."
OURS="bin/kv-server"; MEMBERS=1; MODES="put1 put range srange txn watch lease"; ROUNDS=1; WARM=3
while [ $# -gt 0 ]; do case $1 in
  --ours) OURS=$2; shift 2;; --members) MEMBERS=$2; shift 2;; --modes) MODES=$2; shift 2;;
  --rounds) ROUNDS=$2; shift 2;; --warm) WARM=$2; shift 2;; *) echo "unknown $1"; exit 2;; esac; done
BENCH=${KVBENCH:-/tmp/kvbench}
[ -x "$BENCH" ] || { echo "no $BENCH: run ../shared/bench/perf-compare once (it builds kvbench)"; exit 2; }
PIDS=(); TMP=""; ENDPOINTS=""
start_cluster() { # $1=command; sets ENDPOINTS, PIDS, TMP
  local cmd=$1 base=$((21000 + RANDOM % 800 * 10)) ic="" eps="" i c p
  TMP=$(mktemp -d /tmp/warm-compare-XXXX); PIDS=()
  for i in $(seq 1 "$MEMBERS"); do ic="$ic${ic:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"; done
  for i in $(seq 1 "$MEMBERS"); do
    c=$((base + 2 * i)); p=$((base + 2 * i + 1))
    # shellcheck disable=SC2086
    (exec setsid taskset -c 1 $cmd --name m$i --data-dir $TMP/m$i --listen-client-urls http://127.0.0.1:$c \
      --advertise-client-urls http://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p \
      --initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster $ic --initial-cluster-token perf \
      --initial-cluster-state new >$TMP/m$i.log 2>&1) &
    PIDS+=($!); eps="$eps${eps:+,}127.0.0.1:$c"
  done
  ENDPOINTS=$eps
  for _ in $(seq 1 150); do
    etcdctl --endpoints="$eps" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0; sleep 0.2
  done
  echo "$cmd did not become healthy; log tail:"; tail -5 "$TMP/m1.log"; return 1
}
stop_cluster() {
  for p in "${PIDS[@]}"; do kill -TERM -- -"$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
cpu_ticks() { local t=0 s p; for s in "${PIDS[@]}"; do for p in $(ps -s "$s" -o pid= 2>/dev/null); do
  t=$((t + $(awk '{print $14+$15}' /proc/"$p"/stat 2>/dev/null || echo 0))); done; done; echo $t; }
args_for() { case $1 in
  put1) echo "-mode put -clients 1 -conns 1 -total 1000";;
  put) echo "-mode put -clients 100 -conns 10 -total 20000";;
  range) echo "-mode range -clients 100 -conns 10 -total 40000";;
  srange) echo "-mode srange -clients 100 -conns 10 -total 40000";;
  txn) echo "-mode txn -clients 100 -conns 10 -total 20000";;
  watch) echo "-mode watch -clients 10 -conns 2 -total 2000";;
  lease) echo "-mode lease -clients 50 -conns 5 -total 5000";;
  *) echo "unknown mode $1" >&2; exit 2;;
  esac; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# One warmed measurement: start, serve the mode's load $WARM times unmeasured, then measure it. Prints
# kvbench's last line with " cpu_us=<server CPU per request>" appended.
measure() { # $1=command $2=mode
  local out n c0 cpu
  if ! start_cluster "$1"; then stop_cluster; echo "qps=0 p99=0 errors=start cpu_us=0"; return; fi
  for _ in $(seq 1 "$WARM"); do
    # shellcheck disable=SC2046
    timeout 300 taskset -c 0 "$BENCH" -endpoints "$ENDPOINTS" $(args_for "$2") >/dev/null 2>&1
  done
  c0=$(cpu_ticks)
  # shellcheck disable=SC2046
  out=$(timeout 300 taskset -c 0 "$BENCH" -endpoints "$ENDPOINTS" $(args_for "$2") 2>&1 | tail -1)
  cpu=$(($(cpu_ticks) - c0)); stop_cluster
  n=$(echo "$out" | sed -n 's/.*total=\([0-9]*\).*/\1/p')
  echo "$out cpu_us=$((cpu * 10000 / ${n:-1}))"
}
printf "%-7s %10s %10s %7s %10s %10s %9s %9s\n" mode etcd_qps ours_qps ratio etcd_p99 ours_p99 etcd_cpu ours_cpu
declare -A RATIOS
for _ in $(seq 1 "$ROUNDS"); do for m in $MODES; do
  E=$(measure etcd "$m"); O=$(measure "$OURS" "$m")
  eq=$(echo "$E" | field qps); oq=$(echo "$O" | field qps)
  r=$(python3 -c "print('%.2f' % (${oq:-0} / ${eq:-1}))")
  RATIOS[$m]="${RATIOS[$m]:-} $r"
  printf "%-7s %10s %10s %7s %10s %10s %9s %9s\n" "$m" "$eq" "$oq" "$r" "$(echo "$E" | field p99)ms" \
    "$(echo "$O" | field p99)ms" "$(echo "$E" | field cpu_us)us" "$(echo "$O" | field cpu_us)us"
done; done
if [ "$ROUNDS" -gt 1 ]; then
  echo "median ratio over $ROUNDS rounds (after $WARM warm-up runs):"
  for m in $MODES; do
    # shellcheck disable=SC2086
    python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[2:]]; print('%-7s %7.2f  [%s]' % (sys.argv[1], statistics.median(v), ' '.join('%.2f'%x for x in v)))" "$m" ${RATIOS[$m]}
  done
fi
