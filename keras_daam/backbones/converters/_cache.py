"""Convert-once cache of the packaged presets."""

import os
import shutil
import tempfile

from keras_daam.backbones.converters._common import cache_root

PACKAGED_PRESETS = ("efficientnet_lite0", "whisper_tiny_en")


def _converter(name):
    if name == "efficientnet_lite0":
        from keras_daam.backbones.converters.efficientnet_lite0 import (
            convert_efficientnet_lite0,
        )

        return convert_efficientnet_lite0
    from keras_daam.backbones.converters.whisper_tiny_en import (
        convert_whisper_tiny_en,
    )

    return convert_whisper_tiny_en


def packaged_preset(name, cache_dir=None, overwrite=False):
    """Returns the local preset folder for a packaged model, converting once.

    The first call converts the pip-packaged weights into
    `<cache>/<name>` (written to a temporary sibling folder and renamed, so
    an interrupted conversion never leaves a half-written preset); later
    calls return the folder at once.

    Args:
        name: str. One of `"efficientnet_lite0"`, `"whisper_tiny_en"`.
        cache_dir: str or path. Folder holding the presets. Defaults to
            `$KERAS_DAAM_CACHE/presets` or `~/.cache/keras_daam/presets`.
        overwrite: bool. Convert again even if the folder exists.

    Returns:
        The preset folder as a `str` (KerasHub needs a string), usable with
        `keras_hub.models.Backbone.from_preset`.

    Example:

    >>> import keras_hub
    >>> path = packaged_preset("whisper_tiny_en")  # doctest: +SKIP
    >>> keras_hub.models.WhisperBackbone.from_preset(path)  # doctest: +SKIP
    """
    import pathlib

    if name not in PACKAGED_PRESETS:
        raise ValueError(
            f"Unknown packaged preset {name!r}. Expected one of "
            f"{PACKAGED_PRESETS}."
        )
    root = pathlib.Path(cache_dir).expanduser() if cache_dir else cache_root()
    target = root / name
    if (target / "config.json").exists() and not overwrite:
        return str(target)
    root.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        _converter(name)(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
