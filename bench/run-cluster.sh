#!/usr/bin/env bash
# Remote fork across nodes: restore -> first response on the node that made the snapshot vs another node (cached,
# and the first time with bytes moved), and fan-out over 1 vs 2 nodes, on the cluster of scripts/cluster.sh.
# Writes bench/results/cluster-<date>.{json,md}.
# Usage: bash bench/run-cluster.sh [--reps N] [--fanout N] [--functions hello,quarkus-hello]
# Starts the cluster (and stops it after) unless one is up already. Needs root and the project built.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib bench/target/classes; do
  [ -e "$d" ] || { echo "run-cluster: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
STATE=${SPORE_CLUSTER_DIR:-/var/tmp/spore-cluster}
NET=${SPORE_CLUSTER_NET:-10.214.0}
started=false
if [ ! -s "$STATE/run/hosts" ]; then
  bash scripts/cluster.sh up --nodes 2
  started=true
fi
trap '$started && bash scripts/cluster.sh down' EXIT
java -XX:+UseParallelGC -Xmx1g -Dspore.home="$HOME_DIR" -Dspore.cluster.secrets="$STATE/secrets" -Dspore.cluster.net="$NET" \
  -cp "bench/target/classes:runtime/agent/target/classes:runtime/host/target/classes:runtime/agent/target/lib/*" \
  dev.spore.bench.cluster.ClusterBench "$@"
