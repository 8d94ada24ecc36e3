"""keras_daam: Multi-Head Density Adaptive Attention for Keras 3."""

from keras_daam import layers
from keras_daam.version import __version__

__all__ = ["layers", "__version__"]
