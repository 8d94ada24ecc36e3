"""Task models: a frozen backbone with a DAAM head, end to end."""

from keras_daam.models.density_adaptive_classifier import (
    DensityAdaptiveClassifier,
)
from keras_daam.models.density_adaptive_classifier import load_head
from keras_daam.models.density_adaptive_classifier import read_head_config

__all__ = ["DensityAdaptiveClassifier", "load_head", "read_head_config"]
