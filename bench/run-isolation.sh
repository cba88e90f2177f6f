#!/usr/bin/env bash
# Restore p50 with each isolation layer off/on, side by side in one run (docs/isolation.md).
# Usage: bash bench/run-isolation.sh [--reps N] [--warmup N] [--no-mount-ns]
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
bash "$HOME_DIR/scripts/setup.sh" >/dev/null
exec java -XX:+UseSerialGC -Dspore.home="$HOME_DIR" -Djava.util.logging.config.file=/dev/null \
  -cp "$HOME_DIR/bench/target/spore-bench-0.1.0-SNAPSHOT.jar:$HOME_DIR/bench/target/lib/*" dev.spore.bench.IsolationBench "$@"
