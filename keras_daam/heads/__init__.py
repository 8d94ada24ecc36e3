"""Heads over stacked layer features: attention modules, decoders, losses.

Imports `keras_daam.layers` only.
"""

from keras_daam.heads.build import ATTENTION_NAMES
from keras_daam.heads.build import DECODER_NAMES
from keras_daam.heads.build import build_head
from keras_daam.heads.build import count_parameters
from keras_daam.heads.build import make_attention
from keras_daam.heads.decoders import ConvDecoder
from keras_daam.heads.decoders import TokenMeanPooling
from keras_daam.heads.decoders import map_shape_for
from keras_daam.heads.focal_loss import FocalLoss
from keras_daam.heads.layer_attention import IdentityAttention
from keras_daam.heads.layer_attention import LastLayer
from keras_daam.heads.layer_attention import LayerSelfAttention
from keras_daam.heads.layer_attention import WeightedLayerSum

__all__ = [
    "ATTENTION_NAMES",
    "DECODER_NAMES",
    "ConvDecoder",
    "FocalLoss",
    "IdentityAttention",
    "LastLayer",
    "LayerSelfAttention",
    "TokenMeanPooling",
    "WeightedLayerSum",
    "build_head",
    "count_parameters",
    "make_attention",
    "map_shape_for",
]
