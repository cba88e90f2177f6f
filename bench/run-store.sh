#!/usr/bin/env bash
# Snapshot store benchmark: dedup per chunking (real CRIU images), fetch throughput vs raw socket/memcpy,
# materialize times. Writes bench/results/store-<date>.{json,md}.
# Usage: bash bench/run-store.sh [--reps N]
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
if [ ! -f bench/target/spore-bench-0.1.0-SNAPSHOT.jar ] || [ ! -f bench/target/lib/spore-snapshot-store-0.1.0-SNAPSHOT.jar ]; then
  mvn -q -o package -DskipTests -pl bench -am
fi
exec java -XX:+UseParallelGC -Xmx3g -XX:MaxDirectMemorySize=3g -Dspore.home="$HOME_DIR" \
  -cp "$HOME_DIR/bench/target/spore-bench-0.1.0-SNAPSHOT.jar:$HOME_DIR/bench/target/lib/*" dev.spore.bench.store.StoreBench "$@"
