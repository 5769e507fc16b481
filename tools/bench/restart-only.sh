#!/usr/bin/env bash
# Restart-to-serving of kv-server builds and etcd on saved data directories, alternating (issue 15,
# docs/benchmarks.md "Restart and RSS (session 6)").
# usage: tools/bench/restart-only.sh [-r ROUNDS] [-p PORT_BASE] LABEL=DATA_DIR[@KV_ROOT] ...
#   One server per argument, run in turn each round. LABEL "etcd" (or starting with "etcd") runs etcd;
#   any other label runs bin/kv-server of KV_ROOT (a built checkout; default: this tree). DATA_DIR is a
#   data dir left by a stopped server (e.g. /tmp/rss-LABEL from tools/bench/rss-restart.sh); every start
#   gets a fresh copy, so every round replays the same WAL and opens the same backend (and, for kv, loads
#   the same saved key index if a clean stop left one). Per start it prints the milliseconds until
#   `etcdctl endpoint health` succeeds (probe), the server's CPU time (user+system, all threads) at that
#   moment and its RSS 1 s later; then medians per label.
#   KV_NODE_FLAGS passes through to bin/kv-server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
rounds=3 base=41760
while getopts "r:p:" o; do
  case $o in
    r) rounds=$OPTARG ;;
    p) base=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
client=$base peer=$((base + 1))
log=/tmp/restart-only.log
: >"$log"
tck=$(getconf CLK_TCK)
start() { # $1 label, $2 data dir, $3 kv root
  case $1 in
    etcd*)
      etcd --data-dir "$2" --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" >>"$log" 2>&1 &
      ;;
    *)
      "$3/bin/kv-server" --data-dir "$2" --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" >>"$log" 2>&1 &
      ;;
  esac
  pid=$!
}
wait_healthy() {
  for _ in $(seq 1 3000); do
    etcdctl --endpoints "127.0.0.1:$client" --dial-timeout=200ms --command-timeout=300ms endpoint health \
      >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "server did not become healthy; see $log" >&2
  return 1
}
cpu_ms() { awk -v t="$tck" '{print int(($14 + $15) * 1000 / t)}' "/proc/$pid/stat"; }
rss() { echo $(($(awk '/VmRSS/{print $2}' "/proc/$pid/status") / 1024)); }
declare -A probe cpu
labels=()
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*} rest=${spec#*=}
    src=${rest%%@*} root=$here
    [[ $rest == *@* ]] && root=${rest#*@}
    [ "$r" = 1 ] && labels+=("$label")
    dir=/tmp/restart-only-$label
    rm -rf "$dir"
    cp -a "$src" "$dir"
    sync
    sleep 1
    t0=$(date +%s%N)
    echo "== $label round $r start $(date -u -d "@$((t0 / 1000000000)).$(printf %09d $((t0 % 1000000000)))" +%H:%M:%S.%3N)" >>"$log"
    start "$label" "$dir" "$root"
    wait_healthy || exit 1
    ms=$((($(date +%s%N) - t0) / 1000000))
    c=$(cpu_ms)
    sleep 1
    echo "round $r $label probe_ms=$ms cpu_ms=$c rss_mib=$(rss) load=$(cut -d' ' -f1 /proc/loadavg)"
    probe[$label]+="$ms "
    cpu[$label]+="$c "
    kill "$pid"
    wait "$pid" 2>/dev/null
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
for l in "${labels[@]}"; do
  echo "median $l probe_ms=$(echo "${probe[$l]}" | median) cpu_ms=$(echo "${cpu[$l]}" | median)"
done
