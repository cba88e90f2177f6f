#!/usr/bin/env bash
# On-demand restore (issue 11): hello, quarkus-hello and big-heap (1 GiB live heap): publish time; restore -> first
# response on a node that never held the image (eager vs lazy vs prefetch) and on one that holds it (cached); bytes
# moved before the first response. Store on loopback TCP, nodes in this process. Writes bench/results/lazy-<date>.{json,md}.
# Usage: bash bench/run-lazy.sh [--reps N] [--big-reps N] [--functions hello,quarkus-hello,big-heap] [--modes eager,lazy,prefetch]
# Agent settings to compare variants go in JAVA_TOOL_OPTIONS (e.g. -Dspore.lazy.push=false).
# Needs root, /dev/fuse, a C compiler (spore-pagefs is built on first use) and the project built.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib bench/target/classes functions/big-heap/target/big-heap.jar; do
  [ -e "$d" ] || { echo "run-lazy: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
# the store keeps chunks off-heap: room for the 1 GiB image and its publish
exec java -XX:+UseParallelGC -Xmx1g -XX:MaxDirectMemorySize=6g -Dspore.home="$HOME_DIR" \
  -cp "bench/target/classes:runtime/agent/target/classes:runtime/host/target/classes:runtime/agent/target/lib/*" \
  dev.spore.bench.lazy.LazyBench "$@"
