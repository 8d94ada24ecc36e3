"""Baseline attention modules over stacked layer tokens `[batch, L, d]`.

The paper compares DAAM with standard self-attention among the layer
tokens, with and without BatchNorm; users of frozen encoders know the
softmax-weighted layer sum (SUPERB / s3prl) and the last-layer probe best.
Every module here takes an optional `padding_mask` (`[batch, L]`, `True` =
real layer) so that all heads share one calling convention.
"""

import keras
from keras import ops

from keras_daam.utils import check_positive_int
from keras_daam.utils import clone_initializer


def _as_bool_mask(padding_mask, mask):
    padding_mask = mask if padding_mask is None else padding_mask
    if padding_mask is None:
        return None
    if len(padding_mask.shape) != 2:
        raise ValueError(
            "`padding_mask` must have shape [batch, layers]. Received shape "
            f"{tuple(padding_mask.shape)}."
        )
    return ops.cast(padding_mask, "bool")


def _zero_padded(x, padding_mask):
    if padding_mask is None:
        return x
    return x * ops.cast(padding_mask, x.dtype)[:, :, None]


def _check_rank3(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"{layer.__class__.__name__} expects inputs of shape [batch, "
            f"layers, features]. Received: {tuple(input_shape)}"
        )


@keras.saving.register_keras_serializable(package="keras_daam")
class LayerSelfAttention(keras.layers.Layer):
    """Multi-head self-attention among the layer tokens (the "MHA" baseline).

    Each sample's `L` layer tokens attend to each other with
    `keras.layers.MultiHeadAttention` (no residual, as in the paper). The
    authors' baseline fed `[batch, L, d]` to a sequence-first PyTorch
    `nn.MultiheadAttention`, so it attended across the *batch*; here
    attention never mixes samples. With `use_batch_norm=True` a
    `BatchNormalization` over the layer channels (axis 1) follows, the
    paper's "MHA+BN" baseline.

    Args:
        num_heads: int. Attention heads. Defaults to `8`.
        key_dim: int or `None`. Size of each head; `None` means
            `max(1, d // num_heads)`. Defaults to `None`.
        dropout: float. Dropout on the attention probabilities. Defaults to
            `0.0`.
        use_batch_norm: bool. Append BatchNorm over the layer axis. Defaults
            to `False`.
        kernel_initializer: initializer of the projections. Defaults to
            `"glorot_uniform"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[batch, L, d]`.
        padding_mask: optional boolean `[batch, L]`, `True` = real layer.
            Padded tokens are never attended to, are excluded from the
            BatchNorm statistics, and their outputs are zero.
        training: bool. Training mode (dropout, BatchNorm statistics).

    Returns:
        Tensor `[batch, L, d]`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> layer = keras_daam.heads.LayerSelfAttention(num_heads=2)
    >>> layer(np.zeros((3, 6, 8), "float32")).shape
    (3, 6, 8)
    """

    def __init__(
        self,
        num_heads=8,
        key_dim=None,
        dropout=0.0,
        use_batch_norm=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = key_dim
        self.dropout = float(dropout)
        self.use_batch_norm = bool(use_batch_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        _check_rank3(self, input_shape)
        key_dim = self.key_dim or max(1, input_shape[-1] // self.num_heads)
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="multi_head_attention",
        )
        self.attention.build(input_shape, input_shape)
        self.batch_norm = None
        if self.use_batch_norm:
            self.batch_norm = keras.layers.BatchNormalization(
                axis=1, dtype=self.dtype_policy, name="batch_norm"
            )
            self.batch_norm.build(input_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None, mask=None):
        padding_mask = _as_bool_mask(padding_mask, mask)
        attention_mask = None
        if padding_mask is not None:
            attention_mask = padding_mask[:, None, :]
        x = self.attention(
            inputs, inputs, attention_mask=attention_mask, training=training
        )
        if self.batch_norm is not None:
            x = self.batch_norm(x, training=training, mask=padding_mask)
        return _zero_padded(x, padding_mask)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "use_batch_norm": self.use_batch_norm,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_daam")
class WeightedLayerSum(keras.layers.Layer):
    """Softmax-weighted sum of the layer tokens (SUPERB / s3prl).

    `y = sum_l softmax(w)_l * x_l` with one learnable logit per layer,
    initialised to zero (a plain average). With `normalize=True` every
    layer is first standardised over its features without learned
    parameters, as s3prl's `layer_norm` option does. The output keeps a
    layer axis of length 1: `[batch, 1, d]`.

    Args:
        normalize: bool. Standardise each layer before summing. Defaults to
            `False`.
        epsilon: float. Variance floor of that standardisation. Defaults to
            `1e-5`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[batch, L, d]`.
        padding_mask: optional boolean `[batch, L]`; padded layers get a
            weight of zero (the softmax runs over real layers only).

    Returns:
        Tensor `[batch, 1, d]`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> layer = keras_daam.heads.WeightedLayerSum()
    >>> layer(np.ones((2, 6, 8), "float32")).shape
    (2, 1, 8)

    References:
        - [Yang et al. SUPERB: Speech processing Universal PERformance
          Benchmark. arXiv:2105.01051](https://arxiv.org/abs/2105.01051)
    """

    def __init__(self, normalize=False, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.normalize = bool(normalize)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        _check_rank3(self, input_shape)
        self.layer_logits = self.add_weight(
            name="layer_logits",
            shape=(input_shape[1],),
            initializer="zeros",
            dtype="float32",
        )
        self.built = True

    def layer_weights(self, padding_mask=None):
        """The softmax weights, `[L]` (or `[batch, L]` with a mask)."""
        logits = ops.convert_to_tensor(self.layer_logits)
        if padding_mask is None:
            return ops.softmax(logits)
        logits = ops.where(padding_mask, logits[None, :], -1e30)
        return ops.softmax(logits, axis=-1)

    def call(self, inputs, padding_mask=None, mask=None):
        padding_mask = _as_bool_mask(padding_mask, mask)
        x = ops.cast(inputs, "float32")
        if self.normalize:
            mean = ops.mean(x, axis=-1, keepdims=True)
            var = ops.var(x, axis=-1, keepdims=True)
            x = (x - mean) * ops.rsqrt(var + self.epsilon)
        weights = self.layer_weights(padding_mask)
        if padding_mask is None:
            weights = weights[None, :]
        else:
            # `where`, not a product: Inf/NaN in padded layers never leaks.
            x = ops.where(padding_mask[:, :, None], x, 0.0)
        y = ops.sum(x * weights[:, :, None], axis=1, keepdims=True)
        return ops.cast(y, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"normalize": self.normalize, "epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="keras_daam")
class LastLayer(keras.layers.Layer):
    """Keep only the last layer token: `[batch, L, d] -> [batch, 1, d]`.

    With a padding mask the last *real* layer of each sample is taken.
    Followed by `decoder="flatten"` in `keras_daam.heads.build_head` this is
    the linear probe on the last layer.

    Call arguments:
        inputs: float tensor `[batch, L, d]`.
        padding_mask: optional boolean `[batch, L]`, `True` = real layer.

    Returns:
        Tensor `[batch, 1, d]`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> keras_daam.heads.LastLayer()(np.ones((2, 6, 8), "float32")).shape
    (2, 1, 8)
    """

    def call(self, inputs, padding_mask=None, mask=None):
        padding_mask = _as_bool_mask(padding_mask, mask)
        if padding_mask is None:
            return inputs[:, -1:, :]
        length = ops.shape(inputs)[1]
        # Index of the last True: position of the first True in reverse.
        reversed_first = ops.argmax(
            ops.cast(ops.flip(padding_mask, axis=1), "int32"), axis=1
        )
        index = length - 1 - reversed_first
        select = ops.one_hot(index, length, dtype="bool")[:, :, None]
        # `where` + sum, not a product: other layers' Inf/NaN never leak.
        picked = ops.where(select, inputs, ops.zeros_like(inputs))
        return ops.sum(picked, axis=1, keepdims=True)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2])


@keras.saving.register_keras_serializable(package="keras_daam")
class IdentityAttention(keras.layers.Layer):
    """No attention: the layer tokens pass through unchanged.

    The "none" baseline: the same decoder on the raw stacked layers. With a
    padding mask, padded tokens are zeroed (as DAAM does), so the decoder
    never sees their values.

    Call arguments:
        inputs: float tensor `[batch, L, d]`.
        padding_mask: optional boolean `[batch, L]`, `True` = real layer.

    Returns:
        Tensor `[batch, L, d]`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> keras_daam.heads.IdentityAttention()(np.ones((2, 6, 8))).shape
    (2, 6, 8)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, padding_mask=None, mask=None):
        padding_mask = _as_bool_mask(padding_mask, mask)
        if padding_mask is None:
            return inputs
        return ops.where(
            padding_mask[:, :, None], inputs, ops.zeros_like(inputs)
        )

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape
