#!/usr/bin/env bash
# The full test suite on TensorFlow, JAX and PyTorch, after set-up.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not large"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${VIRTUAL_ENV:-}" ]; then PY=.venv/bin/python; else PY=python; fi
exec $PY scripts/run_tests.py "$@"
