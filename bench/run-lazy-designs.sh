#!/usr/bin/env bash
# Issue 11, candidate designs: CRIU's own lazy restore (a: criu restore --lazy-pages + criu lazy-pages, pages from a
# criu page-server --lazy-pages in its own network namespace over a veth pair, 10.213.77.0/24) against Spore's mapped
# restore (cached) and design (c) (prefetch through FUSE), for snapshots Spore makes of hello and quarkus-hello.
# Writes bench/results/lazy-designs-<date>.{json,md}. Run `bash bench/run-lazy.sh --reps 3 --functions
# hello,quarkus-hello --modes prefetch,lazy` in the same session for (c) on a fresh node (times, bytes).
# Usage: bash bench/run-lazy-designs.sh [--stock-pipe-limits] [--reps N] [--functions hello,quarkus-hello] [--keep-work]
# Pipe limits: CRIU's page server keeps the whole pages image in pipes and tee()s from pipes of up to 4 MiB, which
# needs CAP_SYS_RESOURCE or fs.pipe-max-size >= 4 MiB (and, for images over 64 MiB, fs.pipe-user-pages-soft over
# them): root here lacks CAP_SYS_RESOURCE, so by default the script raises both for the run and puts them back at exit.
# --stock-pipe-limits keeps them: the page server then fails its first request (tee: 65536: Operation not permitted).
# Needs root, userfaultfd, netns, /dev/fuse, a C compiler and the project built. Cleans up namespace, veth and every
# CRIU it started (page servers, lazy-pages daemons), also on failure.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
for d in runtime/agent/target/classes runtime/host/target/classes runtime/agent/target/lib bench/target/classes .spore/criu/bin/criu; do
  [ -e "$d" ] || { echo "run-lazy-designs: $d missing: build the project first (mvn -q package -DskipTests)" >&2; exit 2; }
done
NS=spore-lzd-ps          # the page server's "remote node"
HOST_IF=lzd-h0           # host end 10.213.77.1
PEER_IF=lzd-p0           # namespace end 10.213.77.2
PIDS=$(mktemp /tmp/spore-lzd-pids.XXXXXX)
JAVA_PID=
OLD_MAX=$(cat /proc/sys/fs/pipe-max-size)
OLD_SOFT=$(cat /proc/sys/fs/pipe-user-pages-soft)
RAISE=1
if [ "${1:-}" = "--stock-pipe-limits" ]; then RAISE=0; shift; fi
cleanup() {
  set +e
  [ -n "$JAVA_PID" ] && kill "$JAVA_PID" 2>/dev/null && wait "$JAVA_PID" 2>/dev/null
  # every CRIU the driver started (page servers, lazy-pages daemons), by pid
  while read -r p; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done < "$PIDS"
  # anything still running inside our namespace
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip link del "$HOST_IF" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -f "$PIDS"
  echo "$OLD_MAX" > /proc/sys/fs/pipe-max-size
  echo "$OLD_SOFT" > /proc/sys/fs/pipe-user-pages-soft
}
trap cleanup EXIT INT TERM
cleanup_first() { ip link del "$HOST_IF" 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; }
cleanup_first
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$PEER_IF"
ip link set "$PEER_IF" netns "$NS"
ip addr add 10.213.77.1/24 dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add 10.213.77.2/24 dev "$PEER_IF"
ip netns exec "$NS" ip link set "$PEER_IF" up
ip netns exec "$NS" ip link set lo up
LIMITS="stock: fs.pipe-max-size=$OLD_MAX fs.pipe-user-pages-soft=$OLD_SOFT"
if [ "$RAISE" = 1 ]; then
  echo 4194304 > /proc/sys/fs/pipe-max-size
  echo 0 > /proc/sys/fs/pipe-user-pages-soft
  LIMITS="raised for the run: fs.pipe-max-size=4194304 (was $OLD_MAX) fs.pipe-user-pages-soft=0 (was $OLD_SOFT)"
fi
# the hooks of a lazily restored quarkus-hello fault in pages one network round trip at a time: at load 20 they ran past
# the agent's 10 s hook limit; 60 s lets the bench measure them
java -XX:+UseParallelGC -Xmx1g -XX:MaxDirectMemorySize=3g -Dspore.home="$HOME_DIR" -Dspore.restore-hook-limit-ms=60000 \
  -cp "bench/target/classes:runtime/agent/target/classes:runtime/host/target/classes:runtime/agent/target/lib/*" \
  dev.spore.bench.lazy.LazyDesignsBench --netns "$NS" --address 10.213.77.2 --host-veth "$HOST_IF" --pids "$PIDS" --pipe-limits "$LIMITS" "$@" &
JAVA_PID=$!
wait "$JAVA_PID"
rc=$?
JAVA_PID=
exit $rc
