#!/usr/bin/env bash
# The gateway step of run-functions.sh: quarkus-hello deployed and invoked through `bin/spore` on a private port
# and data directory. Each round waits for the pool to scale to zero (keep-alive 1 s), so every measured call is
# a restore: curl's total time is restore -> first response as an HTTP client sees it, X-Spore-Millis the
# gateway's own account. Appends a section to the Markdown file given as $1.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: functions-gateway.sh RESULT.md}
ROUNDS=${SPORE_BENCH_GATEWAY_ROUNDS:-10}
PORT=${SPORE_BENCH_GATEWAY_PORT:-18090}
DATA=$(mktemp -d /tmp/spore-bench-gateway.XXXXXX)
export SPORE_GATEWAY="http://127.0.0.1:$PORT"

"$HOME_DIR/bin/spore" up --port "$PORT" --data "$DATA" >"$DATA/gateway.log" 2>&1 &
GATEWAY_PID=$!
cleanup() {
  kill "$GATEWAY_PID" 2>/dev/null || true
  wait "$GATEWAY_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fsS "$SPORE_GATEWAY/q/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$SPORE_GATEWAY/q/health" >/dev/null || { echo "bench: gateway did not come up:"; tail -20 "$DATA/gateway.log"; exit 1; }

"$HOME_DIR/bin/spore" deploy quarkus-hello --path --keep-alive 1 \
  --jar "$HOME_DIR/functions/quarkus-hello/target/quarkus-hello-runner.jar" \
  --handler dev.spore.functions.quarkushello.QuarkusHello \
  --warmup-file "$HOME_DIR/functions/quarkus-hello/warmup/cdi.json" \
  --warmup-file "$HOME_DIR/functions/quarkus-hello/warmup/name-only.json" >"$DATA/deploy.log" 2>&1 \
  || { echo "bench: deploy through the gateway failed:"; tail -20 "$DATA/deploy.log"; exit 1; }

rows=""
totals=()
for i in $(seq 1 "$ROUNDS"); do
  sleep 2.5   # keep-alive 1 s + the pool's sweep: the next call finds no idle instance
  line=$(curl -sS -o "$DATA/body" -D "$DATA/headers" -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/json' -d '{"name":"gateway"}' "$SPORE_GATEWAY/invoke/quarkus-hello")
  code=${line% *}
  ms=$(awk -v t="${line#* }" 'BEGIN { printf "%.1f", t * 1000 }')
  start=$(awk -F': ' 'tolower($1)=="x-spore-start" { gsub("\r", "", $2); print $2 }' "$DATA/headers")
  gw=$(awk -F': ' 'tolower($1)=="x-spore-millis" { gsub("\r", "", $2); print $2 }' "$DATA/headers")
  grep -q 'Hello from Quarkus, gateway!' "$DATA/body" || { echo "bench: round $i answered $code: $(cat "$DATA/body")"; exit 1; }
  rows+="| $i | $code | $start | $gw | $ms |"$'\n'
  totals+=("$ms")
  echo "bench: gateway round $i: $code start=$start gateway=${gw}ms client=${ms}ms"
done
p50=$(printf '%s\n' "${totals[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
{
  echo
  echo "## Through the gateway (quarkus-hello, \`bin/spore\`)"
  echo
  echo "Each round waits for scale-to-zero (keep-alive 1 s), so the call is served by a fresh restore (X-Spore-Start);"
  echo "round 1 also fetches the image from the store into the node cache, and the gateway itself is still cold."
  echo "Client time = curl's total (HTTP to the gateway, restore, first response). p50 client: **${p50} ms**."
  echo
  echo "| round | HTTP | start | X-Spore-Millis | client ms |"
  echo "|---:|---:|---|---:|---:|"
  printf '%s' "$rows"
} >>"$OUT"
echo "bench: appended the gateway rounds to $OUT"
