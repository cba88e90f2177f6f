#!/usr/bin/env bash
# Gateway benchmark: starts `spore up` on a scratch data dir, measures cold / restored / warm first responses
# through the gateway next to the bare agent, the warm path's added latency and wrk throughput; writes
# bench/results/gateway-latest.{json,md}. Not a test: numbers only, no assertions.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
PORT=${PORT:-8095}
ROUNDS=${ROUNDS:-10}
if ! command -v wrk >/dev/null; then
  echo "run-gateway: installing wrk (Debian package)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
    || { echo "run-gateway: wrk missing and could not be installed: apt-get install -y wrk" >&2; exit 2; }
fi
if [ ! -f functions/hello/target/hello.jar ] || [ ! -d gateway/target/quarkus-app ] || [ ! -d bench/target/lib ]; then
  mvn -q -o package -DskipTests -pl gateway,bench,functions/hello -am
fi
DATA=$(mktemp -d /tmp/spore-bench-gateway.XXXXXX)
bin/spore up --data "$DATA" --port "$PORT" > "$DATA/gateway.log" 2>&1 &
UP=$!
trap 'kill $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "localhost:$PORT/q/health/ready" >/dev/null && break; sleep 0.2; done
java -Dspore.home="$HOME_DIR" -cp "$(ls bench/target/spore-bench-*.jar | head -1):bench/target/lib/*:bench/target/classes" \
  dev.spore.bench.gateway.GatewayBench --gateway "http://localhost:$PORT" --jar functions/hello/target/hello.jar \
  --rounds "$ROUNDS" --out bench/results
