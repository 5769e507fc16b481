#!/usr/bin/env bash
# Restart-to-serving of kv-server and etcd on a saved data directory, alternating (issue 15,
# docs/benchmarks.md "Restart and RSS (session 6)").
# usage: tools/bench/restart-only.sh KV_DATA_DIR ETCD_DATA_DIR [ROUNDS] [PORT_BASE]
#   KV_DATA_DIR / ETCD_DATA_DIR: data dirs left behind by tools/bench/rss-restart.sh (/tmp/rss-LABEL),
#   stopped cleanly. Each start gets a fresh copy, so every round replays the same WAL and opens the same
#   backend. Per start it prints the milliseconds until `etcdctl endpoint health` succeeds (probe), the
#   server's CPU time (user+system, all threads) at that moment, and RSS 1 s later; then the medians.
#   KV_NODE_FLAGS is passed through to bin/kv-server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
kvsrc=$1 etcdsrc=$2 rounds=${3:-3} base=${4:-41760}
client=$base peer=$((base + 1))
log=/tmp/restart-only.log
: >"$log"
tck=$(getconf CLK_TCK)
start() { # $1 = kv | etcd, $2 = data dir
  if [ "$1" = etcd ]; then
    etcd --data-dir "$2" --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" >>"$log" 2>&1 &
  else
    "$here/bin/kv-server" --data-dir "$2" --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" >>"$log" 2>&1 &
  fi
  pid=$!
}
wait_healthy() {
  for _ in $(seq 1 2000); do
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
for r in $(seq 1 "$rounds"); do
  for s in kv etcd; do
    src=$kvsrc
    [ "$s" = etcd ] && src=$etcdsrc
    dir=/tmp/restart-only-$s
    rm -rf "$dir"
    cp -a "$src" "$dir"
    sync
    sleep 0.5
    t0=$(date +%s%N)
    start "$s" "$dir"
    wait_healthy || exit 1
    ms=$((($(date +%s%N) - t0) / 1000000))
    c=$(cpu_ms)
    sleep 1
    echo "round $r $s probe_ms=$ms cpu_ms=$c rss_mib=$(rss)"
    probe[$s]+="$ms "
    cpu[$s]+="$c "
    kill "$pid"
    wait "$pid" 2>/dev/null
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
for s in kv etcd; do
  echo "median $s probe_ms=$(echo "${probe[$s]}" | median) cpu_ms=$(echo "${cpu[$s]}" | median)"
done
