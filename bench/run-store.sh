#!/usr/bin/env bash
# Snapshot store benchmark: dedup per chunking (real CRIU images), fetch throughput vs raw socket/memcpy,
# materialize times. Writes bench/results/store-<date>.{json,md}.
# Usage: bash bench/run-store.sh [--reps N] [--chunking fixed-16384|fixed-4096|page-16384|gear-65536]
#        bash bench/run-store.sh --gb [--gb-size MiB] [--data-dir DIR] [--no-compression] [--out-stem NAME]  # 1 GiB image: publish/fetch vs disk and
#             socket limits, compression ratios, recovery (PackBench); writes bench/results/store-gb-<date>.{json,md}
# Builds the store module, then compiles the bench's store classes on their own (javac), so that a module
# the store bench does not need cannot stop it. Needs the agent and host built (`mvn -q package -DskipTests`).
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
mvn -q -o package -DskipTests -pl snapshot-store
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib functions/mitosis-demo/target/mitosis-demo.jar; do
  [ -e "$d" ] || { echo "run-store: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
CP="snapshot-store/target/classes:runtime/agent/target/classes:runtime/host/target/classes:snapshot-store/target/lib/*:runtime/agent/target/lib/*"
OUT=bench/target/store-bench-classes
mkdir -p "$OUT"
javac -nowarn -d "$OUT" -cp "$CP" bench/src/main/java/dev/spore/bench/Machine.java bench/src/main/java/dev/spore/bench/store/*.java
MAIN=dev.spore.bench.store.StoreBench
if [ "${1:-}" = "--gb" ]; then shift; MAIN=dev.spore.bench.store.PackBench; fi
exec java -XX:+UseParallelGC -Xmx3g -XX:MaxDirectMemorySize=4g ${SPORE_BENCH_JAVA_OPTS:-} -Dspore.home="$HOME_DIR" \
  -Djava.util.logging.config.file=/dev/null -cp "$OUT:$CP" "$MAIN" "$@"
