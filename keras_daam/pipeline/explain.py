"""The Importance Factor of a saved DAAM head, over a feature cache."""

import json
import os

import numpy as np

from keras_daam.pipeline.train import open_cache
from keras_daam.utils.folders import OutputFolderError
from keras_daam.utils.folders import folder_lock
from keras_daam.utils.folders import prepare_output_folder

OWN_FILES = (
    "explanation.json",
    "importance_factor.npy",
    "importance_factor.png",
    "layer_contribution.png",
    ".lock",
)


def _load_head_model(path):
    """The head `keras.Model` of a head folder (or a `.keras` file)."""
    if os.path.isfile(path) and path.endswith(".keras"):
        import keras

        import keras_daam.heads  # noqa: F401 - registers the classes

        try:
            return keras.saving.load_model(path), None
        except Exception as error:  # noqa: BLE001 - any load failure
            raise ValueError(f"Cannot load {path}: {error}") from None
    from keras_daam.models import load_head_model

    return load_head_model(path)


def explain_cache(
    cache, model, output, k=2, max_examples=None, overwrite=False, log=None
):
    """IF heat map, layer contributions and top/bottom layers of a head.

    Args:
        cache: str. A pooled feature cache made like the head's training
            cache (use validation data); its labels are not needed.
        model: str. A head folder (`keras-daam train` output
            `heads/<name>`) or a `.keras` head file, with a DAAM layer.
        output: str. Folder for `explanation.json`, `importance_factor.npy`
            and the two figures (new, empty, or an earlier explanation
            with `overwrite=True`).
        k: int. How many top and bottom layers to name.
        max_examples: int, optional. Use only the first N examples.
        overwrite: bool. Replace an earlier explanation in `output`.
        log: callable for progress lines, or None.

    Returns:
        The explanation dict (also written to `explanation.json`).
    """
    from keras_daam.experiments.explanation import explain_head
    from keras_daam.features import FeatureCache

    if not os.path.exists(model):
        raise ValueError(f"No such head folder or model file: {model}")
    head, description = _load_head_model(model)
    try:
        head.get_layer("attention")
    except ValueError:
        raise ValueError(
            f"{model} has no layer named 'attention'; explain needs a DAAM "
            "head from `keras-daam train` (e.g. heads/daam_h1_flatten)."
        ) from None
    try:
        features = FeatureCache(cache)
    except FileNotFoundError as error:
        raise ValueError(str(error)) from None
    if not features.pooled:
        open_cache(cache)  # raises the unpooled-cache error
    x = np.asarray(features.features, "float32")
    expected = (
        tuple(head.input_shape[1:]) if hasattr(head, "input_shape") else None
    )
    if expected and tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"The cache {cache} holds features {tuple(x.shape[1:])} but the "
            f"head takes {expected}: explain with a cache extracted like the "
            "head's training data."
        )
    if description is not None:
        recorded = description.get("backbone_fingerprint")
        if recorded and recorded != features.settings.get(
            "backbone_fingerprint"
        ):
            raise ValueError(
                f"The cache {cache} was made by another backbone than the "
                f"one {model} was trained on."
            )
    if max_examples:
        x = x[:max_examples]
    held = prepare_output_folder(output, OWN_FILES, what="--output")
    if held and not overwrite:
        raise OutputFolderError(
            f"{output} holds an earlier explanation. Choose another --output, "
            "or pass --overwrite to replace it."
        )
    log = log or (lambda message: None)
    log(f"averaging the DAAM gate of {model} over {len(x)} examples")
    with folder_lock(output, "explanation"):
        info = explain_head(head, x, output, k=k)
        with open(os.path.join(output, "explanation.json"), "w") as f:
            json.dump(info, f, indent=2)
    return info
