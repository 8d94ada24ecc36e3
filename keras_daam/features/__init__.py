"""Feature extraction over datasets and the on-disk feature cache.

- `make_preprocessor`: raw texts / images / audio -> backbone inputs, with
  the settings that shape the features (recorded by caches and heads).
- `extract_to_cache` / `FeatureCache`: extraction into a cache keyed by
  every input (data, backbone, layers, preprocessing), with a lock.
- `extract_features`: the same extraction, in memory.
- `merge_shards`: one cache from shards extracted by several processes.
"""

from keras_daam.features.cache import CacheError
from keras_daam.features.cache import CacheLockedError
from keras_daam.features.cache import CacheMismatchError
from keras_daam.features.cache import FeatureCache
from keras_daam.features.cache import extract_to_cache
from keras_daam.features.extraction import extract_features
from keras_daam.features.extraction import fingerprint_data
from keras_daam.features.preprocessing import AudioPreprocessor
from keras_daam.features.preprocessing import ImagePreprocessor
from keras_daam.features.preprocessing import Preprocessor
from keras_daam.features.preprocessing import TextPreprocessor
from keras_daam.features.preprocessing import make_preprocessor
from keras_daam.features.shards import merge_shards

__all__ = [
    "AudioPreprocessor",
    "CacheError",
    "CacheLockedError",
    "CacheMismatchError",
    "FeatureCache",
    "ImagePreprocessor",
    "Preprocessor",
    "TextPreprocessor",
    "extract_features",
    "extract_to_cache",
    "fingerprint_data",
    "make_preprocessor",
    "merge_shards",
]
