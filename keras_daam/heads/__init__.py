"""Heads over stacked layer features: attention modules, decoders, losses.

`build_head(NAME, ...)` builds a named head of the registry
(`keras_daam.heads.registry`, the only place a head name is defined);
`build_head(attention=..., decoder=..., ...)` a custom one.

Imports `keras_daam.layers` only.
"""

from keras_daam.heads.build import ATTENTION_NAMES
from keras_daam.heads.build import DECODER_NAMES
from keras_daam.heads.build import build_head
from keras_daam.heads.build import compile_head
from keras_daam.heads.build import count_parameters
from keras_daam.heads.build import make_attention
from keras_daam.heads.build import trainable_parameter_count
from keras_daam.heads.decoders import ConvDecoder
from keras_daam.heads.decoders import TokenMeanPooling
from keras_daam.heads.decoders import TokenSumPooling
from keras_daam.heads.decoders import map_shape_for
from keras_daam.heads.focal_loss import FocalLoss
from keras_daam.heads.layer_attention import IdentityAttention
from keras_daam.heads.layer_attention import LastLayer
from keras_daam.heads.layer_attention import LayerSelfAttention
from keras_daam.heads.layer_attention import WeightedLayerSum
from keras_daam.heads.registry import HeadSpec
from keras_daam.heads.registry import describe_heads
from keras_daam.heads.registry import get_head_spec
from keras_daam.heads.registry import head_names
from keras_daam.heads.registry import is_head_name

__all__ = [
    "ATTENTION_NAMES",
    "DECODER_NAMES",
    "ConvDecoder",
    "HeadSpec",
    "FocalLoss",
    "IdentityAttention",
    "LastLayer",
    "LayerSelfAttention",
    "TokenMeanPooling",
    "TokenSumPooling",
    "WeightedLayerSum",
    "build_head",
    "compile_head",
    "count_parameters",
    "describe_heads",
    "get_head_spec",
    "head_names",
    "is_head_name",
    "make_attention",
    "map_shape_for",
    "trainable_parameter_count",
]
