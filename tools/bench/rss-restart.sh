#!/usr/bin/env bash
# Memory after a 200k-key load and restart-to-serving time of kv-server (issue 15, docs/benchmarks.md
# "Memory and restart").
# usage: tools/bench/rss-restart.sh LABEL [PORT_BASE] [ENV=VALUE ...]
#   Loads 200 000 16-byte keys (tools/bench/load.mjs, 100 clients / 10 connections) into a fresh data dir,
#   prints the load's throughput and latency percentiles (one JSON line), RSS and memoryUsage
#   (tools/bench/memdump.cjs), stops the server, starts it again and prints the milliseconds until
#   `etcdctl endpoint health` succeeds, then RSS after the restart. RSS is sampled 2, 5, 10 and 30 s after
#   the load and 1 s and 20 s after the restart. The restart figure can be rounded up by up to 1 s (the
#   probe's command timeout); tools/bench/restart-only.sh measures restarts alone, more precisely.
#   ENV assignments are exported to bin/kv-server; KV_EXTRA_FLAGS adds node/V8 flags to the ones the
#   script sets (it preloads memdump.cjs through KV_NODE_FLAGS), e.g. KV_EXTRA_FLAGS=--max-semi-space-size=16.
#   KV_BIN=etcd measures real etcd instead (same load, same restart probe).
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
label=$1
shift
base=41730
if [[ ${1:-} =~ ^[0-9]+$ ]]; then base=$1; shift; fi
client=$base peer=$((base + 1))
# ENV=VALUE arguments apply to this script too (KV_EXTRA_FLAGS, KV_BIN) and to the server it starts.
for a in "$@"; do export "${a?}"; done
dir=/tmp/rss-$label
log=/tmp/rss-$label.log
rm -rf "$dir"
start() {
  if [ "${KV_BIN:-}" = etcd ]; then
    etcd --data-dir "$dir" --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" >>"$log" 2>&1 &
  else
    KV_NODE_FLAGS="--expose-gc --require $here/tools/bench/memdump.cjs ${KV_EXTRA_FLAGS:-}" "$here/bin/kv-server" \
      --data-dir "$dir" --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" >>"$log" 2>&1 &
  fi
  pid=$!
}
wait_healthy() {
  for _ in $(seq 1 2000); do
    # Short timeouts: both servers accept connections before they serve, and etcdctl's default 2 s dial
    # timeout would round the restart time up to its next retry.
    etcdctl --endpoints "127.0.0.1:$client" --dial-timeout=300ms --command-timeout=1s endpoint health \
      >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  echo "server did not become healthy; see $log" >&2
  return 1
}
rss() { echo $(($(awk '/VmRSS/{print $2}' "/proc/$pid/status") / 1024)); }
: >"$log"
start
wait_healthy || exit 1
node "$here/tools/bench/load.mjs" --endpoint "127.0.0.1:$client" --op put --clients 100 --conns 10 --total 200000 \
  --key-space 200000 --key-size 16 --max-seconds 600 | sed "s/^/$label load: /"
# RSS right after the load and while the server idles (kv-server's idle heap trim: src/runtime/idle-heap-trim.ts).
loaded=$(date +%s%N)
for at in 2 5 10 30; do
  sleep "$(awk -v at="$at" -v t0="$loaded" -v now="$(date +%s%N)" 'BEGIN { d = at - (now - t0) / 1e9; print (d > 0 ? d : 0) }')"
  echo "$label rss_mib=$(rss) ($at s after the load)"
done
if [ "${KV_BIN:-}" != etcd ]; then
  kill -USR2 "$pid" # memdump.cjs: memoryUsage, a full GC, memoryUsage again
  sleep 3
  grep MEMDUMP "$log" | tail -2
  echo "$label rss_mib=$(rss) (3 s after a full GC)"
fi
kill "$pid"
wait "$pid" 2>/dev/null
sleep 0.5
t0=$(date +%s%N)
start
wait_healthy || exit 1
echo "$label restart_ms=$((($(date +%s%N) - t0) / 1000000))"
sleep 1
echo "$label rss_after_restart_mib=$(rss) (1 s after serving)"
sleep 19
echo "$label rss_after_restart_mib=$(rss) (20 s after serving)"
kill "$pid"
wait "$pid" 2>/dev/null
