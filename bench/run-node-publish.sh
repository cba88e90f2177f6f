#!/usr/bin/env bash
# Publish through a node (issue 11 item 6): big-heap's ~1.4 GB image prepared on a LocalNode and published to a store
# daemon in this process on loopback TCP, cold JVM first then warm (a fresh store each repetition); prints wall, CPU
# and GC time of the PUBLISHING stage. Same JVM settings as bench/run-lazy.sh.
# Usage: bash bench/run-node-publish.sh [--reps N] [--keep-image DIR | --image DIR]
# A/B: SPORE_BENCH_CP=DIR-or-JAR goes first on the class path (e.g. an older snapshot-store jar).
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib bench/target/classes functions/big-heap/target/big-heap.jar; do
  [ -e "$d" ] || { echo "run-node-publish: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
exec java ${SPORE_BENCH_GC:--XX:+UseParallelGC -Xmx1g} -XX:MaxDirectMemorySize=6g ${SPORE_BENCH_JAVA_OPTS:-} -Dspore.home="$HOME_DIR" \
  -cp "${SPORE_BENCH_CP:+$SPORE_BENCH_CP:}bench/target/classes:runtime/agent/target/classes:runtime/host/target/classes:runtime/agent/target/lib/*" \
  dev.spore.bench.lazy.NodePublishBench "$@"
