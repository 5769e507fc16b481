#!/usr/bin/env bash
# helper-sched.sh: bin/kv-server with the scheduling of its threads changed right after the spawn, to
# measure how V8's background threads (TurboFan compiles, GC helpers) and the main thread share one
# core (docs/benchmarks.md "Session 21", item 3). Pass it as the server command of put-path.sh:
#   HELPER_NICE=10 tools/bench/put-path.sh -n 1 tools/bench/helper-sched.sh -- -mode put -clients 1 -conns 1 -total 1000
# Environment (all optional; unset = unchanged):
#   HELPER_NICE=N       nice value of V8's platform threads (tasks 1-5 of the process by creation order:
#                       node starts its delayed-task thread and four workers before any JavaScript runs)
#   HELPER_POLICY=-b    a `chrt` policy option for those threads instead (-b batch, -i idle)
#   MAIN_SLICE_NS=N     the main thread's EEVDF slice (sched_setattr's sched_runtime), e.g. 100000
#   HELPER_SLICE_NS=N   the same for the platform threads
# Not for production: a measurement aid. Needs python3 for sched_setattr.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/bin/kv-server" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM INT
for _ in $(seq 1 200); do [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.01; done
helpers=$(ls /proc/$pid/task 2>/dev/null | sort -n | sed -n '2,6p')
for t in $helpers; do
  if [ -n "${HELPER_POLICY:-}" ]; then chrt "$HELPER_POLICY" -p 0 "$t"
  elif [ -n "${HELPER_NICE:-}" ]; then renice -n "$HELPER_NICE" -p "$t" >/dev/null; fi
done
slices=""
[ -n "${MAIN_SLICE_NS:-}" ] && slices="$pid:$MAIN_SLICE_NS:0"
if [ -n "${HELPER_SLICE_NS:-}" ]; then
  for t in $helpers; do slices="$slices $t:$HELPER_SLICE_NS:${HELPER_NICE:-0}"; done
fi
if [ -n "$slices" ]; then
  # sched_setattr(2) with SCHED_OTHER and sched_runtime set: the thread's slice under EEVDF (Linux 6.6+).
  python3 - $slices <<'PY'
import ctypes, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_SCHED_SETATTR = 314  # x86_64
for arg in sys.argv[1:]:
    tid, runtime, nice = (int(x) for x in arg.split(':'))
    # struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period
    attr = ctypes.create_string_buffer(struct.pack('IIQiIQQQ', 48, 0, 0, nice, 0, runtime, 0, 0))
    if libc.syscall(SYS_SCHED_SETATTR, tid, attr, 0) != 0:
        print('sched_setattr(%d) failed: errno %d' % (tid, ctypes.get_errno()), file=sys.stderr)
PY
fi
wait $pid; rc=$?
# A trapped signal ends the first wait early: wait for the server to finish stopping.
if kill -0 $pid 2>/dev/null; then wait $pid; rc=$?; fi
exit $rc
