#!/usr/bin/env bash
# A/B of the store's CPU in one session: PackBench (1 GiB, --no-compression --no-write) against the store classes
# in CLASSES (e.g. a copy of snapshot-store/target/classes built from main, then from a branch), output to OUT.
# Run A and B alternately, several pairs, and compare CPU-s (and "jit-s", the C1/C2 threads' share) per step:
#   bash bench/store-ab.sh /tmp/classes-main A1.out; bash bench/store-ab.sh /tmp/classes-branch B1.out; ...
#   grep pack-bench A1.out B1.out
# Needs the project built (mvn -q package -DskipTests).
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
CLS=$(cd "$1" && pwd); OUT=$(realpath -m "$2")
cd "$HOME_DIR"
CP="$CLS:runtime/agent/target/classes:runtime/host/target/classes:snapshot-store/target/lib/*:runtime/agent/target/lib/*"
BO=bench/target/store-ab-classes
mkdir -p "$BO"
javac -nowarn -d "$BO" -cp "$CP" bench/src/main/java/dev/spore/bench/Machine.java bench/src/main/java/dev/spore/bench/store/*.java
java -XX:+UseParallelGC -Xmx3g -XX:MaxDirectMemorySize=4g ${SPORE_BENCH_JAVA_OPTS:-} -Dspore.home="$HOME_DIR" \
  -Djava.util.logging.config.file=/dev/null -cp "$BO:$CP" dev.spore.bench.store.PackBench --no-compression --no-write >"$OUT" 2>&1
