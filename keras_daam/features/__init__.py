"""Feature extraction over datasets and the on-disk feature cache."""

from keras_daam.features.cache import FeatureCache
from keras_daam.features.cache import extract_to_cache

__all__ = ["FeatureCache", "extract_to_cache"]
