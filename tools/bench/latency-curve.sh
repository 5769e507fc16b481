#!/usr/bin/env bash
# latency-curve.sh: how a fresh server's latency changes over one kvbench run, kv beside etcd. Runs the
# same load against fresh members of each (tools/bench/put-path.sh: servers on CPU 1, load on CPU 0) and
# prints p50/p90/p99 per window of consecutive requests, so the part of a run a fresh process spends
# warming up (V8 compiling its hot code) shows apart from its steady state (docs/benchmarks.md,
# "Session 24").
#
# kvbench keeps each request's latency; a copy of ../shared/bench/kvbench built by this script (into
# /tmp/kvbench-lat, patched at build time: with KVBENCH_LAT=FILE set it writes the latencies, in the
# order the requests were handed out, before it sorts them) writes them out. Needs what perf-compare
# needs (apt-get install golang-go golang-etcd-server-dev, etcd-server).
#
# Usage (repo root, after bin/setup):
#   tools/bench/latency-curve.sh [-n MEMBERS] [-w WINDOW] [-- KVBENCH ARGS]
#   tools/bench/latency-curve.sh -- -mode put -clients 1 -conns 1 -total 10000          # put1, longer
#   tools/bench/latency-curve.sh -n 3 -w 2000 -- -mode put -clients 100 -conns 10 -total 20000
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MEMBERS=1; WINDOW=500
while [ $# -gt 0 ]; do case $1 in
  -n) MEMBERS=$2; shift 2;; -w) WINDOW=$2; shift 2;; --) shift; break;; *) echo "unknown $1"; exit 2;; esac; done
ARGS=${*:-"-mode put -clients 1 -conns 1 -total 5000"}
SRC="$ROOT/../shared/bench/kvbench/main.go"
BIN=/tmp/kvbench-lat
if [ ! -x "$BIN" ] || [ "$SRC" -nt "$BIN" ] || [ "$0" -nt "$BIN" ]; then
  build=$(mktemp -d /tmp/kvbench-lat-src-XXXX)
  # The one change: dump `lat` (indexed by request number) before kvbench sorts it for its percentiles.
  python3 - "$SRC" "$build/main.go" <<'PY' || exit 2
import sys
src = open(sys.argv[1]).read()
anchor = "\tsort.Slice(lat,"
if src.count(anchor) != 1:
    sys.exit("latency-curve.sh: kvbench's source changed; cannot find where it sorts the latencies")
dump = ('\tif f := os.Getenv("KVBENCH_LAT"); f != "" {\n\t\tvar b strings.Builder\n'
        '\t\tfor _, d := range lat {\n\t\t\tfmt.Fprintf(&b, "%d\\n", d.Microseconds())\n\t\t}\n'
        '\t\tif err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {\n'
        '\t\t\tfmt.Fprintln(os.Stderr, "KVBENCH_LAT:", err)\n\t\t}\n\t}\n')
open(sys.argv[2], "w").write(src.replace(anchor, dump + anchor))
PY
  (cd "$build" && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$BIN" .) || { echo "cannot build $BIN"; exit 2; }
  rm -rf "$build"
fi
OUT=$(mktemp -d /tmp/latency-curve-XXXX)
for server in kv etcd; do
  cmd="bin/kv-server"; [ $server = etcd ] && cmd=etcd
  line=$(KVBENCH=$BIN KVBENCH_LAT=$OUT/$server "$ROOT/tools/bench/put-path.sh" -n "$MEMBERS" $cmd -- $ARGS)
  echo "$server: ${line%%$'\n'*}"
done
python3 - "$OUT/kv" "$OUT/etcd" "$WINDOW" <<'PY'
import sys
kv, etcd, w = [int(x) for x in open(sys.argv[1])], [int(x) for x in open(sys.argv[2])], int(sys.argv[3])
def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1)))] / 1000
print("requests        kv p50/p90/p99 (ms)       etcd p50/p90/p99 (ms)")
for a in range(0, min(len(kv), len(etcd)), w):
    k, e = kv[a:a + w], etcd[a:a + w]
    print("%6d-%-6d  %6.2f %6.2f %7.2f     %6.2f %6.2f %7.2f" % (
        a, a + len(k) - 1, pct(k, .5), pct(k, .9), pct(k, .99), pct(e, .5), pct(e, .9), pct(e, .99)))
PY
rm -rf "$OUT"
