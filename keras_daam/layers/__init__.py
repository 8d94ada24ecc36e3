"""Pure `keras.ops` layers. Imports nothing else from the package."""

from keras_daam.layers.density_attention import FORMULATIONS
from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.layers.density_attention import LogNormal
from keras_daam.layers.density_block import DensityBlock
from keras_daam.layers.density_gate import DensityAdaptiveGate
from keras_daam.layers.grouped_query_density_attention import (
    GroupedQueryDensityAttention,
)

__all__ = [
    "FORMULATIONS",
    "DensityAdaptiveAttention",
    "DensityAdaptiveGate",
    "DensityBlock",
    "GroupedQueryDensityAttention",
    "LogNormal",
]
