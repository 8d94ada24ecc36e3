"""Task models: a frozen backbone with a DAAM head, end to end.

- `DensityAdaptiveClassifier`: preprocessor + frozen backbone + layer-wise
  extractor + head, one compile, `fit` / `fit_cached` on the same head.
- `load_head`: a classifier rebuilt from a saved head and its preset.
- `save_head_files` / `head_description` / `read_head_config`: the saved
  head format (`head.weights.h5` + `head.json`), also for heads trained
  on a feature cache without a backbone (the command line's `train`);
  `load_head_model` reads such a head back without a backbone.
"""

from keras_daam.models.density_adaptive_classifier import (
    DensityAdaptiveClassifier,
)
from keras_daam.models.density_adaptive_classifier import load_head
from keras_daam.models.saved_head import description_from_cache
from keras_daam.models.saved_head import head_description
from keras_daam.models.saved_head import load_head_model
from keras_daam.models.saved_head import read_head_config
from keras_daam.models.saved_head import save_head_files

__all__ = [
    "DensityAdaptiveClassifier",
    "description_from_cache",
    "head_description",
    "load_head",
    "load_head_model",
    "read_head_config",
    "save_head_files",
]
