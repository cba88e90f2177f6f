#!/usr/bin/env bash
# The MITOSIS demo, Java edition: checkpoint the counter program under handler id 73 (fork_prepare),
# restore two children concurrently (fork_resume), print their output and the restore timings.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$HOME_DIR"
echo "== fork_prepare: start the parent cold and checkpoint it as handler id 73"
bin/spore-agent checkpoint --handler-id 73 -cp functions/mitosis-demo/target/mitosis-demo.jar \
  dev.spore.functions.demo.MitosisDemo --until 5 --interval-ms 200
echo
echo "== fork_resume: restore two children concurrently from handler id 73"
bin/spore-agent restore --handler-id 73 --count 2
