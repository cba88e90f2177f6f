#!/usr/bin/env bash
# Sets up everything Spore needs on a fresh Debian bookworm machine (as root), idempotently:
# JDK and Maven if missing, util-linux/iproute2, CRIU 4.x (scripts/install-criu.sh), and the build.
# Quick when everything is already there.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
say() { printf 'setup: %s\n' "$*"; }

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # scripts/cluster.sh and the TLS tests make certificates
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/install-criu.sh

# the build: skip when nothing under the sources changed since the last one
stamp=.spore/build.stamp
if [ -f "$stamp" ] && [ -z "$(find . -path ./.spore -prune -o -path '*/target' -prune -o \( -name '*.java' -o -name pom.xml -o -name '*.properties' \) -newer "$stamp" -print -quit)" ]; then
  say "build is up to date"
else
  say "building (mvn package -DskipTests)"
  t0=$(date +%s)
  mvn -q -B package -DskipTests
  mkdir -p .spore && touch "$stamp"
  say "built in $(( $(date +%s) - t0 )) s"
fi
