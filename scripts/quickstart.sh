#!/usr/bin/env bash
# Quick start: set up everything on this machine, then run the main job.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
bash "$HOME_DIR/scripts/setup.sh"
exec bash "$HOME_DIR/scripts/main-job.sh"
