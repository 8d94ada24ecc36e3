"""Pure `keras.ops` layers. Imports nothing else from the package."""

from keras_daam.layers.density_attention import FORMULATIONS
from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.layers.density_attention import LogNormal
from keras_daam.layers.density_block import DensityBlock

__all__ = [
    "FORMULATIONS",
    "DensityAdaptiveAttention",
    "DensityBlock",
    "LogNormal",
]
