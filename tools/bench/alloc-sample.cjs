/**
 * Allocation sampling for a running kv-server, young-generation garbage included (`--heap-prof` keeps
 * only objects alive at the end, which misses almost everything a request allocates). Preload with
 * `KV_NODE_FLAGS="--require tools/bench/alloc-sample.cjs" bin/kv-server ...`.
 * First SIGUSR2: starts V8's sampling heap profiler (every 4 KiB on average, objects later collected by
 * minor and major GCs kept). Second SIGUSR2: stops it and writes the profile to
 * $KV_ALLOC_PROFILE (default /tmp/kv-alloc.heapprofile). Read it with tools/bench/alloc-report.mjs.
 * KV_ALLOC_LIVE=1 leaves out objects young-generation collections freed: what is left is what scavenges
 * copied and promoted (retention), whether a later full collection freed it or not.
 */
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const out = process.env.KV_ALLOC_PROFILE || '/tmp/kv-alloc.heapprofile';
const session = new inspector.Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMinorGC: !process.env.KV_ALLOC_LIVE,
      includeObjectsCollectedByMajorGC: true,
    });
    process.stderr.write('ALLOC sampling started\n');
    return;
  }
  sampling = false;
  // With KV_ALLOC_LIVE, garbage still in the young generation would count as retained: collect it first
  // (bin/kv-server runs node with --expose-gc).
  if (process.env.KV_ALLOC_LIVE && typeof gc === 'function')
    for (let i = 0; i < 2; i++) gc({ type: 'minor' });
  session.post('HeapProfiler.stopSampling', (err, res) => {
    if (err) process.stderr.write(`ALLOC failed: ${err.message}\n`);
    else writeFileSync(out, JSON.stringify(res.profile));
    process.stderr.write(`ALLOC profile written to ${out}\n`);
  });
});
