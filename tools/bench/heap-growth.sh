#!/usr/bin/env bash
# heap-growth.sh: what a load leaves alive in each kv-server member (tools/bench/heap-growth.mjs on two
# heap snapshots taken around it). See docs/benchmarks.md "Session 10".
#
# Usage (repo root, after bin/setup; needs /tmp/kvbench, see put-path.sh):
#   tools/bench/heap-growth.sh [-n MEMBERS] [ROOT] [-- KVBENCH ARGS]
# Default: 20 000 warm-up puts, then 20 000 measured, 100 clients on 10 connections. ROOT: the checkout
# whose bin/kv-server runs (default: this one). The leader's report says so.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
MEMBERS=1; [ "${1:-}" = "-n" ] && { MEMBERS=$2; shift 2; }
ROOT=$HERE; [ $# -gt 0 ] && [ "$1" != "--" ] && { ROOT=$1; shift; }
[ "${1:-}" = "--" ] && shift
ARGS=${*:-"-mode put -clients 100 -conns 10"}
BENCH=${KVBENCH:-/tmp/kvbench}
TMP=$(mktemp -d /tmp/heap-growth-XXXX)
base=$((21000 + RANDOM % 800 * 10)); ic=""; eps=""; PIDS=()
for i in $(seq 1 "$MEMBERS"); do ic="$ic${ic:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"; done
for i in $(seq 1 "$MEMBERS"); do
  c=$((base + 2 * i)); p=$((base + 2 * i + 1)); mkdir -p "$TMP/snap$i"
  (cd "$TMP/snap$i" && KV_NODE_FLAGS="--heapsnapshot-signal=SIGUSR2" exec setsid taskset -c 1 "$ROOT/bin/kv-server" \
    --name m$i --data-dir $TMP/m$i --listen-client-urls http://127.0.0.1:$c --advertise-client-urls http://127.0.0.1:$c \
    --listen-peer-urls http://127.0.0.1:$p --initial-advertise-peer-urls http://127.0.0.1:$p \
    --initial-cluster $ic --initial-cluster-token heap --initial-cluster-state new >$TMP/m$i.log 2>&1) &
  PIDS+=($!); eps="$eps${eps:+,}127.0.0.1:$c"
done
for _ in $(seq 1 150); do etcdctl --endpoints=$eps --command-timeout=1s endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
snap() { # one member at a time: a snapshot stops its process for seconds
  for i in $(seq 1 "$MEMBERS"); do
    n=$(ls "$TMP/snap$i" | wc -l); kill -USR2 "${PIDS[$((i - 1))]}"
    for _ in $(seq 1 300); do [ "$(ls "$TMP/snap$i" | wc -l)" -gt "$n" ] && break; sleep 0.1; done
    # Written when its size stops changing.
    size=-1; while [ "$size" != "$(du -b "$TMP/snap$i" | cut -f1)" ]; do size=$(du -b "$TMP/snap$i" | cut -f1); sleep 0.5; done
  done
}
taskset -c 0 "$BENCH" -endpoints $eps $ARGS -total 20000 >/dev/null 2>&1
snap
OUT=$(taskset -c 0 "$BENCH" -endpoints $eps $ARGS -total 20000 2>&1 | tail -1)
snap
for p in "${PIDS[@]}"; do kill -TERM -- -$p 2>/dev/null; done
for p in "${PIDS[@]}"; do wait $p 2>/dev/null; done
echo "$OUT"
for i in $(seq 1 "$MEMBERS"); do
  role=follower; grep -q "became leader" $TMP/m$i.log && role=leader; [ "$MEMBERS" = 1 ] && role=single
  echo "== m$i ($role)"
  set -- $(ls "$TMP/snap$i"/*.heapsnapshot | sort)
  node --max-old-space-size=8000 "$HERE/tools/bench/heap-growth.mjs" "$1" "$2" 20000 | head -${TOP:-12}
done
if [ -n "${KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
