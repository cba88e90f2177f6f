#!/usr/bin/env bash
# The main job: start Spore's embedded single-node platform (gateway + store + agent in one process),
# deploy the sample functions, invoke each from a restored instance and from a cold start, print the
# comparison, then keep serving. Ctrl-C stops everything.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
PORT=${SPORE_PORT:-8080}
DATA=${SPORE_DATA:-$HOME_DIR/.spore/quickstart}
URL="http://localhost:$PORT"
export SPORE_GATEWAY="$URL"

rm -rf "$DATA" && mkdir -p "$DATA"
echo "== starting the embedded platform on $URL (data: $DATA, log: $DATA/gateway.log)"
bin/spore up --port "$PORT" --data "$DATA" >"$DATA/gateway.log" 2>&1 &
GW=$!
trap 'kill $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 120); do
  curl -fs "$URL/q/health/ready" >/dev/null 2>&1 && break
  kill -0 $GW 2>/dev/null || { echo "gateway exited; see $DATA/gateway.log" >&2; tail -20 "$DATA/gateway.log" >&2; exit 1; }
  sleep 0.5
done

deploy() { # name jar handler payload [extra options]
  local name=$1 jar=$2 handler=$3 payload=$4; shift 4
  echo
  echo "== deploy $name (fork_prepare: start -> warm-up -> checkpoint -> publish)"
  # keep-alive 1 s: idle instances scale to zero quickly, so the next call shows a restore again
  bin/spore deploy "$name" --jar "$jar" --handler "$handler" --warmup "$payload" --keep-alive 1 "$@"
  # the same jar and handler, as a version that always starts cold: the baseline
  bin/spore deploy "$name" --jar "$jar" --handler "$handler" --warmup "$payload" --no-checkpoint --alias cold >/dev/null
}

call() { # name version payload -> "kind ms"
  local out
  out=$(curl -s -o /dev/null -D - -w 'TIME %{time_total}\n' --data-binary "$3" "$URL/invoke/$1/$2")
  local kind ms
  kind=$(printf '%s' "$out" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-spore-start"{print $2}')
  ms=$(printf '%s' "$out" | awk '/^TIME/{printf "%.1f", $2*1000}')
  echo "$kind $ms"
}

HELLO_JAR=functions/hello/target/hello.jar
LAMBDA_JAR=functions/lambda-hello/target/lambda-hello.jar
EVENT=$(cat functions/lambda-hello/warmup/api-gateway-event.json 2>/dev/null || echo '{"body":"world"}')
deploy hello "$HELLO_JAR" dev.spore.functions.hello.Hello world
deploy lambda-hello "$LAMBDA_JAR" dev.spore.functions.lambdahello.LambdaHello "$EVENT"

echo
echo "== first response of each function (curl, end to end through the gateway)"
echo "   first restore: the image is fetched from the store into this node's cache, then restored"
echo "   restore:       scaled to zero again, restored from the cached image"
printf '%-14s %-22s %-22s %-22s %-18s\n' function "first restore" "restore" "cold start" "warm call"
for fn in hello lambda-hello; do
  payload=world; [ "$fn" = lambda-hello ] && payload=$EVENT
  read -r fk fms < <(call "$fn" 1 "$payload")
  sleep 2.5 # keep-alive 1 s: back to zero instances
  read -r rk rms < <(call "$fn" 1 "$payload")
  read -r wk wms < <(call "$fn" 1 "$payload")
  read -r ck cms < <(call "$fn" cold "$payload")
  printf '%-14s %-22s %-22s %-22s %-18s\n' "$fn" "$fms ms ($fk)" "$rms ms ($rk)" "$cms ms ($ck)" "$wms ms ($wk)"
done
echo
echo "Spore is serving on $URL. Try:"
echo "  curl -d world $URL/invoke/hello"
echo "  bin/spore ls            # functions, versions, status"
echo "  curl -s $URL/q/metrics | grep spore_"
echo "Ctrl-C to stop."
wait $GW
