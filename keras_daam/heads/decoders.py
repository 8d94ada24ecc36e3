"""Decoders from attended layer tokens `[batch, C, d]` to a feature vector.

`ConvDecoder` is the paper's decoder ("DAT"): every token's `d` features
become a 2-D map, the tokens become channels, and two 3x3 convolutions
mix them. The light decoders used by `build_head` are plain Keras layers
(`Flatten`), `TokenMeanPooling` or `TokenSumPooling`.
"""

import math

import keras
from keras import ops

from keras_daam.utils import clone_initializer


def map_shape_for(feature_dim):
    """The most square factorisation `(height, width)` of `feature_dim`.

    `height <= width` and `height * width == feature_dim`, with `height`
    the largest divisor not above `sqrt(feature_dim)`: 1024 -> (32, 32),
    384 -> (16, 24), 5120 -> (64, 80), 512 -> (16, 32). The paper reshaped
    GQDAAM's 512 features to 8 x 64 instead; the convolutions have the same
    parameters either way (pass `map_shape=(8, 64)` to copy it exactly). A
    prime `feature_dim` gives a `(1, feature_dim)` strip.

    Example:

    >>> from keras_daam.heads import map_shape_for
    >>> map_shape_for(1024), map_shape_for(384)
    ((32, 32), (16, 24))
    """
    if isinstance(feature_dim, bool) or not isinstance(feature_dim, int):
        raise ValueError(
            f"`feature_dim` must be a positive integer. Received: "
            f"{feature_dim!r}"
        )
    if feature_dim < 1:
        raise ValueError(f"`feature_dim` must be >= 1. Received: {feature_dim}")
    height = math.isqrt(feature_dim)
    while feature_dim % height:
        height -= 1
    return height, feature_dim // height


@keras.saving.register_keras_serializable(package="keras_daam")
class ConvDecoder(keras.layers.Layer):
    """The paper's convolutional decoder ("DAT"), without the classifier.

    `[batch, C, d]` -> reshape each of the `C` tokens (layers) to an
    `h x w` map, tokens as channels -> `Conv2D(C -> filters, 3x3, same)` +
    ReLU -> `Conv2D(filters -> C, 3x3, same)` + ReLU -> flatten to
    `[batch, h * w * C]` (or, with `pooling="avg"`, average over the map
    to `[batch, C]`, a much lighter input for the classifier). Kernels are
    Xavier-uniform (`glorot_uniform`) as in the paper.

    With `C = 24`, `filters = 512` the two convolutions hold
    `24*512*9 + 512 + 512*24*9 + 24 = 221,720` parameters, whatever `d`.

    Args:
        filters: int. Width of the hidden convolution. Defaults to `512`.
        kernel_size: int. Size of both square kernels. Defaults to `3`.
        map_shape: tuple `(h, w)` or `None`. The 2-D shape of each token's
            features; `None` picks the most square factor pair
            (`map_shape_for`). Defaults to `None`.
        pooling: `None` or `"avg"`. Flatten (the paper) or global average
            pooling over the map. Defaults to `None`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[batch, C, d]`.

    Returns:
        `[batch, h * w * C]`, or `[batch, C]` with `pooling="avg"`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> decoder = keras_daam.heads.ConvDecoder(filters=16)
    >>> decoder(np.zeros((2, 4, 12), "float32")).shape
    (2, 48)

    References:
        - [Ioannides, Chadha, Elkins. Density Adaptive Attention is All You
          Need. arXiv:2401.11143](https://arxiv.org/abs/2401.11143)
    """

    def __init__(
        self,
        filters=512,
        kernel_size=3,
        map_shape=None,
        pooling=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("kernel_size", kernel_size)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < 1
            ):
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: "
                    f"{name}={value!r}"
                )
        if map_shape is not None:
            map_shape = tuple(map_shape)
            if len(map_shape) != 2 or not all(
                isinstance(v, int) and v >= 1 for v in map_shape
            ):
                raise ValueError(
                    "`map_shape` must be None or a pair of positive "
                    f"integers. Received: map_shape={map_shape!r}"
                )
        if pooling not in (None, "avg"):
            raise ValueError(
                f"`pooling` must be None or 'avg'. Received: {pooling!r}"
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.map_shape = map_shape
        self.pooling = pooling
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _conv(self, filters, name):
        return keras.layers.Conv2D(
            filters,
            self.kernel_size,
            padding="same",
            activation="relu",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        if len(input_shape) != 3 or None in tuple(input_shape[1:]):
            raise ValueError(
                "ConvDecoder expects inputs [batch, tokens, features] with "
                f"known tokens and features. Received: {tuple(input_shape)}"
            )
        channels, features = input_shape[1], input_shape[2]
        if self.map_shape is None:
            height, width = map_shape_for(features)
        else:
            height, width = self.map_shape
            if height * width != features:
                raise ValueError(
                    f"`map_shape` {self.map_shape} has {height * width} "
                    f"cells but each token has {features} features."
                )
        self._grid = (channels, height, width)
        self.conv_in = self._conv(self.filters, "conv_in")
        self.conv_in.build((None, height, width, channels))
        self.conv_out = self._conv(channels, "conv_out")
        self.conv_out.build((None, height, width, self.filters))
        self.built = True

    def call(self, inputs):
        channels, height, width = self._grid
        x = ops.reshape(inputs, (-1, channels, height, width))
        x = ops.transpose(x, (0, 2, 3, 1))  # tokens become channels
        x = self.conv_out(self.conv_in(x))
        if self.pooling == "avg":
            return ops.mean(x, axis=(1, 2))
        return ops.reshape(x, (-1, height * width * channels))

    def compute_output_shape(self, input_shape):
        if self.pooling == "avg":
            return (input_shape[0], input_shape[1])
        return (input_shape[0], input_shape[1] * input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "map_shape": self.map_shape,
                "pooling": self.pooling,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_daam")
class TokenMeanPooling(keras.layers.Layer):
    """Mean over the token (layer) axis: `[batch, C, d] -> [batch, d]`.

    With a padding mask (`[batch, C]`, `True` = real) only real tokens are
    averaged; a sample with none gives zeros.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> keras_daam.heads.TokenMeanPooling()(np.ones((2, 6, 8))).shape
    (2, 8)
    """

    def call(self, inputs, padding_mask=None):
        if padding_mask is None:
            return ops.mean(inputs, axis=1)
        total, count = _masked_sum(inputs, padding_mask)
        return total / ops.maximum(count, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def _masked_sum(inputs, padding_mask):
    keep = ops.cast(padding_mask, inputs.dtype)[:, :, None]
    picked = ops.where(keep > 0, inputs, ops.zeros_like(inputs))
    return ops.sum(picked, axis=1), ops.sum(keep, axis=1)


@keras.saving.register_keras_serializable(package="keras_daam")
class TokenSumPooling(TokenMeanPooling):
    """Sum over the token (layer) axis: `[batch, C, d] -> [batch, d]`.

    With a padding mask only real tokens are summed. After an attention
    module whose weights sum to one over the tokens (a normalised DAAM),
    the sum is attention pooling.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> keras_daam.heads.TokenSumPooling()(np.ones((2, 6, 8)))[0, 0]
    6.0
    """

    def call(self, inputs, padding_mask=None):
        if padding_mask is None:
            return ops.sum(inputs, axis=1)
        return _masked_sum(inputs, padding_mask)[0]
