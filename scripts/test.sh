#!/usr/bin/env bash
# Runs the whole test suite (unit and end-to-end with real JVMs and real CRIU). Sets up first if needed.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
bash scripts/setup.sh
# verify, not test: end-to-end tests of later modules use the jars that earlier modules package
exec mvn -B verify "$@"
