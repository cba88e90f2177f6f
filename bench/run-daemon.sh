#!/usr/bin/env bash
# Daemon invoke bench: a warm invoke through RemoteNode -> daemon (gRPC) -> Node vs the same Node in-process,
# side by side in one run. Writes bench/results/daemon-invoke-<date>.{json,md}.
# Usage: bash bench/run-daemon.sh [--calls N] [--rounds R] [--body BYTES]
# Compiles the bench's daemon classes on their own (javac), like run-store.sh. Needs the agent built
# (mvn -q package -DskipTests).
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib; do
  [ -e "$d" ] || { echo "run-daemon: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
CP="runtime/agent/target/classes:runtime/host/target/classes:runtime/agent/target/lib/*"
OUT=bench/target/daemon-bench-classes
mkdir -p "$OUT"
javac -nowarn -d "$OUT" -cp "$CP" bench/src/main/java/dev/spore/bench/{Machine,Report,Stats}.java bench/src/main/java/dev/spore/bench/daemon/*.java
exec java -XX:+UseParallelGC -Xmx1g -Dspore.home="$HOME_DIR" -Djava.util.logging.config.file=/dev/null \
  -cp "$OUT:$CP" dev.spore.bench.daemon.DaemonBench "$@"
