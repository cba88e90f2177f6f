#!/usr/bin/env bash
# Costs of restore fidelity (docs/restore-uniqueness.md), same-run comparisons on this machine:
#  - JVM start-up with and without the host jar as -javaagent (the `new Random()` tracking), p50 of REPS starts
#  - ns per `new Random()` with and without it, and reseeding N tracked generators (RandomTrackingCost.java)
# Usage: bash bench/run-fidelity.sh [--java-home DIR] [--reps N]
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME_ARG="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
REPS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --java-home) JAVA_HOME_ARG="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    *) echo "unknown option $1 (use --java-home DIR, --reps N)" >&2; exit 2 ;;
  esac
done
JAVA="$JAVA_HOME_ARG/bin/java"
HOST=$(ls runtime/host/target/spore-host-*.jar | head -1)
[ -f "$HOST" ] || { echo "no host jar: run mvn -q package -DskipTests first" >&2; exit 1; }
OPENS="--add-opens=java.base/java.util=ALL-UNNAMED"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
printf 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n' > "$WORK/Hello.java"
"$JAVA_HOME_ARG/bin/javac" -d "$WORK" "$WORK/Hello.java" bench/fidelity/RandomTrackingCost.java
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
startup() {
  for _ in $(seq "$REPS"); do
    t0=$(date +%s%N); "$JAVA" -Xshare:auto "$@" -cp "$WORK:$HOST" Hello >/dev/null; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
  done | p50
}
echo "jdk: $("$JAVA" -version 2>&1 | head -1)"
echo "startup-ms p50 without agent: $(startup $OPENS)"
echo "startup-ms p50 with -javaagent: $(startup $OPENS -javaagent:"$HOST")"
echo "-- without agent"; "$JAVA" $OPENS -cp "$WORK:$HOST" RandomTrackingCost
echo "-- with -javaagent"; "$JAVA" $OPENS -javaagent:"$HOST" -cp "$WORK:$HOST" RandomTrackingCost
