"""GQA-DAAM: DAAM over the layer axis, then grouped-query self-attention."""

import keras
from keras import ops

from keras_daam.layers.density_attention import FORMULATIONS
from keras_daam.layers.density_attention import DensityAdaptiveAttention


class _NormalizedGroupedQueryAttention(keras.layers.GroupQueryAttention):
    """Keras GQA with an optional LayerNorm before the output projection.

    `keras.layers.GroupQueryAttention` projects the concatenated heads
    straight through its output projection. The paper (following MAGNETO /
    Sub-LN) normalises the attention output first. `_compute_attention` is
    the hook between the two, so the norm is applied there; everything else
    (projections, key/value repetition, masking, scores) is Keras's own.
    """

    def __init__(self, use_output_norm=True, norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.use_output_norm = use_output_norm
        self.norm_epsilon = norm_epsilon

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self._output_norm = None
        if self.use_output_norm:
            # One norm over all heads jointly (the concatenated width), as a
            # LayerNorm on the [.., heads * head_dim] vector would be.
            self._output_norm = keras.layers.LayerNormalization(
                axis=(-2, -1),
                epsilon=self.norm_epsilon,
                dtype=self.dtype_policy,
                name="output_norm",
            )
            self._output_norm.build(
                (None, None, self.num_query_heads, self.head_dim)
            )

    def _compute_attention(self, query, key, value, **kwargs):
        output, scores = super()._compute_attention(query, key, value, **kwargs)
        if self._output_norm is not None:
            output = self._output_norm(output)
        return output, scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_output_norm": self.use_output_norm,
                "norm_epsilon": self.norm_epsilon,
            }
        )
        return config


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="keras_daam")
class GroupedQueryDensityAttention(keras.layers.Layer):
    """GQA-DAAM: density attention, then grouped-query self-attention.

    The paper's "GQDAAM" module
    ([Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)) over
    stacked, pooled hidden states `[batch, L layers, d features]`:

    1. `DensityAdaptiveAttention` with `density_heads` heads along the layer
       axis (axis 1), available as `.density_attention`;
    2. a `Dense` projection of every layer token from `d` to `hidden_dim`;
    3. grouped-query self-attention among the `L` layer tokens
       (`keras.layers.GroupQueryAttention`: `num_query_heads` query heads
       share `num_key_value_heads` key/value heads of size `head_dim`), with
       a LayerNorm on the attention output before the output projection
       (the paper's MAGNETO placement; `use_output_norm=False` drops it).

    The output has shape `[batch, L, hidden_dim]`. There is no residual
    connection, as in the paper.

    Differences from the authors' code, on purpose: their grouped-query
    attention divided the scores by `sqrt(head_dim)` twice (a temperature
    of `1 / head_dim`) and summed the query heads of each group, so only
    `num_key_value_heads` attention maps (and a `num_key_value_heads *
    head_dim` wide output) remained. This layer is standard GQA: scores are
    scaled once by `1 / sqrt(head_dim)` and every query head keeps its own
    map, so the LayerNorm and the output projection act on
    `num_query_heads * head_dim` features. With the paper's sizes (d=1024,
    width 512, 8 query / 2 key-value heads of 64) that adds 197,376
    parameters to the authors' count: the output projection is 512 -> 512
    instead of 128 -> 512 (+196,608) and the LayerNorm spans 512 instead of
    128 features (+768).

    Masking: with a padding mask (`True` = real layer token), padded tokens
    are excluded from the density statistics and are never attended to, and
    their own outputs (and attention-score rows) are set to zero. The
    outputs for real tokens do not depend on the values of padded ones.

    Args:
        hidden_dim: int. Model width the layer tokens are projected to.
            Defaults to `512`.
        num_query_heads: int. Number of query heads. Defaults to `8`.
        num_key_value_heads: int. Number of key/value heads; must divide
            `num_query_heads`. Defaults to `2`.
        head_dim: int or `None`. Size of each head. `None` means
            `hidden_dim // num_query_heads`. Defaults to `None` (64 with the
            other defaults, as in the paper).
        density_heads: int. Heads of the density attention along the layer
            axis; must divide `L`. Defaults to `8`.
        num_densities: int. Gaussian densities per density head. Defaults
            to `1`.
        formulation: str. Formulation of the density attention (see
            `DensityAdaptiveAttention`). Defaults to `"paper"`.
        use_output_norm: bool. LayerNorm on the attention output before the
            output projection. Defaults to `True`.
        norm_epsilon: float. Epsilon of that LayerNorm. Defaults to `1e-5`.
        dropout: float. Dropout rate on the attention probabilities.
            Defaults to `0.0`.
        use_bias: bool. Whether the projections have biases. Defaults to
            `True`.
        kernel_initializer: initializer of the projection kernels. Defaults
            to `"glorot_uniform"` (Xavier-uniform, as in the paper).
        bias_initializer: initializer of the biases. Defaults to `"zeros"`.
        seed: int, optional. Seed of the dropout and of the density
            attention's random initializers.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor `[batch, L, d]`.
        padding_mask: optional boolean tensor `[batch, L]`, `True` for real
            layer tokens. If not given, the Keras mask of the input is used.
        return_attention_scores: bool. If `True`, also return the density
            map and the attention probabilities.
        training: bool. Training mode (dropout).

    Returns:
        `[batch, L, hidden_dim]` outputs; with `return_attention_scores=True`
        a tuple `(outputs, density_map, attention_scores)` where
        `density_map` is `[batch, L, d]` and `attention_scores` is
        `[batch, num_query_heads, L, L]`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> x = np.random.normal(size=(2, 24, 64)).astype("float32")
    >>> layer = keras_daam.layers.GroupedQueryDensityAttention(hidden_dim=32)
    >>> y, density_map, scores = layer(x, return_attention_scores=True)
    >>> tuple(y.shape), tuple(density_map.shape), tuple(scores.shape)
    ((2, 24, 32), (2, 24, 64), (2, 8, 24, 24))

    References:
        - [Ioannides, Chadha, Elkins. Density Adaptive Attention is All You
          Need. arXiv:2401.11143](https://arxiv.org/abs/2401.11143)
        - [Ainslie et al. GQA: Training Generalized Multi-Query Transformer
          Models from Multi-Head Checkpoints.
          arXiv:2305.13245](https://arxiv.org/abs/2305.13245)
        - [Wang et al. Foundation Transformers (MAGNETO).
          arXiv:2210.06423](https://arxiv.org/abs/2210.06423)
    """

    def __init__(
        self,
        hidden_dim=512,
        num_query_heads=8,
        num_key_value_heads=2,
        head_dim=None,
        density_heads=8,
        num_densities=1,
        formulation="paper",
        use_output_norm=True,
        norm_epsilon=1e-5,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("hidden_dim", hidden_dim),
            ("num_query_heads", num_query_heads),
            ("num_key_value_heads", num_key_value_heads),
            ("density_heads", density_heads),
            ("num_densities", num_densities),
        ):
            _check_positive_int(name, value)
        if head_dim is None:
            if hidden_dim % num_query_heads:
                raise ValueError(
                    f"`hidden_dim` ({hidden_dim}) is not divisible by "
                    f"`num_query_heads` ({num_query_heads}); pass `head_dim` "
                    "explicitly."
                )
            head_dim = hidden_dim // num_query_heads
        _check_positive_int("head_dim", head_dim)
        if num_query_heads % num_key_value_heads:
            raise ValueError(
                f"`num_query_heads` ({num_query_heads}) must be divisible by "
                f"`num_key_value_heads` ({num_key_value_heads})."
            )
        if formulation not in FORMULATIONS:
            raise ValueError(
                f"Unknown `formulation`: {formulation!r}. Expected one of "
                f"{FORMULATIONS}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        self.hidden_dim = hidden_dim
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.density_heads = density_heads
        self.num_densities = num_densities
        self.formulation = formulation
        self.use_output_norm = bool(use_output_norm)
        self.norm_epsilon = float(norm_epsilon)
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.supports_masking = True

    def _clone_initializer(self, initializer):
        # An unseeded initializer fixes its seed when created, so sharing
        # one instance would give sublayers identical values; a clone from
        # the config (seed None) draws a fresh seed.
        return initializer.__class__.from_config(initializer.get_config())

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "GroupedQueryDensityAttention expects inputs of shape "
                f"[batch, layers, features]. Received: {tuple(input_shape)}"
            )
        if input_shape[-1] is None:
            raise ValueError(
                "The feature size (last axis) must be known when the layer "
                f"is built. Received input shape {tuple(input_shape)}."
            )
        self.density_attention = DensityAdaptiveAttention(
            num_heads=self.density_heads,
            num_densities=self.num_densities,
            axis=1,
            formulation=self.formulation,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="density_attention",
        )
        self.density_attention.build(input_shape)
        self.projection = keras.layers.Dense(
            self.hidden_dim,
            use_bias=self.use_bias,
            kernel_initializer=self._clone_initializer(self.kernel_initializer),
            bias_initializer=self._clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)
        self.grouped_query_attention = _NormalizedGroupedQueryAttention(
            use_output_norm=self.use_output_norm,
            norm_epsilon=self.norm_epsilon,
            head_dim=self.head_dim,
            num_query_heads=self.num_query_heads,
            num_key_value_heads=self.num_key_value_heads,
            dropout=self.dropout,
            use_bias=self.use_bias,
            kernel_initializer=self._clone_initializer(self.kernel_initializer),
            bias_initializer=self._clone_initializer(self.bias_initializer),
            seed=self.seed,
            dtype=self.dtype_policy,
            name="grouped_query_attention",
        )
        hidden_shape = tuple(input_shape[:-1]) + (self.hidden_dim,)
        self.grouped_query_attention.build(hidden_shape, hidden_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        training=None,
        mask=None,
    ):
        if padding_mask is None:
            padding_mask = mask
        key_mask = None
        if padding_mask is not None:
            if len(padding_mask.shape) != 2:
                raise ValueError(
                    "`padding_mask` must have shape [batch, layers]. "
                    f"Received shape {tuple(padding_mask.shape)}."
                )
            key_mask = ops.cast(padding_mask, "bool")
        gated, density_map = self.density_attention(
            inputs, padding_mask=key_mask, return_attention_scores=True
        )
        hidden = self.projection(gated)
        attention_mask = None
        if key_mask is not None:
            # Every query may attend to real keys only. Queries are not
            # masked: a padded query's row would be all-masked (and uniform
            # after softmax); its output is zeroed below instead.
            attention_mask = ops.expand_dims(key_mask, 1)
        result = self.grouped_query_attention(
            hidden,
            hidden,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        outputs, scores = result if return_attention_scores else (result, None)
        if key_mask is not None:
            keep = ops.cast(key_mask, outputs.dtype)
            outputs = outputs * ops.expand_dims(keep, -1)
            if scores is not None:
                keep = ops.cast(key_mask, scores.dtype)
                scores = scores * keep[:, None, :, None]
        if return_attention_scores:
            return outputs, density_map, scores
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.hidden_dim,)

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        training=None,
        mask=None,
    ):
        dtype = self.compute_dtype
        outputs = keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=dtype
        )
        if not return_attention_scores:
            return outputs
        batch, length = inputs.shape[0], inputs.shape[1]
        return (
            outputs,
            keras.KerasTensor(inputs.shape, dtype=dtype),
            keras.KerasTensor(
                (batch, self.num_query_heads, length, length), dtype=dtype
            ),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads,
                "head_dim": self.head_dim,
                "density_heads": self.density_heads,
                "num_densities": self.num_densities,
                "formulation": self.formulation,
                "use_output_norm": self.use_output_norm,
                "norm_epsilon": self.norm_epsilon,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
