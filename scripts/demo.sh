#!/usr/bin/env bash
# The main job: set up a fresh machine, then run `keras-daam demo`
# (frozen MiniLM on WordNet noun supersenses, every head compared, IF maps).
# Extra arguments go to `keras-daam demo` (e.g. `--seeds 3`, `--quick`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${VIRTUAL_ENV:-}" ]; then BIN=.venv/bin/; else BIN=""; fi
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
exec ${BIN}keras-daam demo "$@"
