#!/usr/bin/env bash
# Every sample function, cold start vs restore from its snapshot, side by side in one run (issue 5).
# Writes bench/results/functions-<date>.{md,json,png}, then (unless SPORE_BENCH_GATEWAY=0) deploys quarkus-hello
# through the gateway (`bin/spore`) and appends restored-through-the-gateway timings to the .md.
# Build first: mvn -q package -DskipTests
# Usage: bash bench/run-functions.sh [--reps N] [--warmup N (5)] [--warm-calls N] [--gap-ms MS (50)] [--only hello,quarkus-hello]
#                                    [--jvm-option OPT]... [--label jdk25] [--java-home /usr/lib/jvm/temurin-25-jdk-amd64]
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
bash "$HOME_DIR/scripts/setup.sh" >/dev/null
java -XX:+UseSerialGC -Djava.awt.headless=true -Dspore.home="$HOME_DIR" -Djava.util.logging.config.file=/dev/null \
  -cp "$HOME_DIR/bench/target/spore-bench-0.1.0-SNAPSHOT.jar:$HOME_DIR/bench/target/lib/*" \
  dev.spore.bench.functions.FunctionsBench "$@"
[ "${SPORE_BENCH_GATEWAY:-1}" = "0" ] && exit 0
LABEL=functions
for ((i = 1; i <= $#; i++)); do [ "${!i}" = "--label" ] && { j=$((i + 1)); LABEL="functions-${!j}"; }; done
exec bash "$HOME_DIR/bench/functions-gateway.sh" "$HOME_DIR/bench/results/$LABEL-$(date +%F).md"
