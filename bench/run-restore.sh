#!/usr/bin/env bash
# Cold start vs restore, time to first reply of the MITOSIS demo. Writes bench/results/restore-<date>.{json,md}.
# Usage: bash bench/run-restore.sh [--reps N] [--java-home /usr/lib/jvm/temurin-25-jdk-amd64]
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
bash "$HOME_DIR/scripts/setup.sh" >/dev/null
exec java -XX:+UseSerialGC -Dspore.home="$HOME_DIR" -Djava.util.logging.config.file=/dev/null \
  -cp "$HOME_DIR/bench/target/spore-bench-0.1.0-SNAPSHOT.jar:$HOME_DIR/bench/target/lib/*" dev.spore.bench.RestoreBench "$@"
