/**
 * Per-thread CPU of a process, sampled every 5 ms from /proc/PID/task/TID/schedstat (nanoseconds on
 * CPU), for tools/bench/loop-lag.sh. Usage: node tools/bench/thread-cpu.mjs PID OUT.json; stops on
 * SIGTERM or when the process is gone, writing [epoch ms, thread, ms on CPU since the last sample]
 * rows; the thread is `main` for the process's main thread, else `T<tid>`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const [pid, out] = process.argv.slice(2);
const prev = new Map();
const rows = [];
const finish = () => {
  writeFileSync(out, JSON.stringify(rows));
  process.exit(0);
};
setInterval(() => {
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    finish();
    return;
  }
  const now = Date.now();
  for (const t of tasks) {
    try {
      const ms = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      const d = ms - (prev.get(t) ?? ms);
      prev.set(t, ms);
      if (d > 0) rows.push([now, t === pid ? 'main' : `T${t}`, d]);
    } catch {
      // the thread ended between readdir and read
    }
  }
}, 5);
process.on('SIGTERM', finish);
