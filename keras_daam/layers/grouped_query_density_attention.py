"""GQA-DAAM: DAAM over the layer axis, then grouped-query self-attention."""

import math

import keras
from keras import ops

from keras_daam.layers.density_attention import FORMULATIONS
from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.utils import check_choice
from keras_daam.utils import check_float
from keras_daam.utils import check_positive_int
from keras_daam.utils import clone_initializer


class _GroupedQueryAttention(keras.layers.Layer):
    """Grouped-query self-attention with a LayerNorm before the output.

    Standard GQA ([Ainslie et al., 2023](https://arxiv.org/abs/2305.13245)):
    `num_query_heads` query heads in `num_key_value_heads` groups (query
    head `u` reads key/value head `u // (num_query_heads //
    num_key_value_heads)`), scores scaled once by `1 / sqrt(head_dim)`, one
    attention map per query head. The concatenated heads are normalised
    (the paper's MAGNETO / Sub-LN placement) before the output projection.

    Public Keras API only (`EinsumDense`, `LayerNormalization`, `Dropout`,
    `keras.ops`): `keras.layers.GroupQueryAttention` offers no public hook
    between its attention and its output projection. The sublayers keep
    the attribute and layer names they had when this layer subclassed it
    (`_query_dense` named `"query"`, ...): `.keras` and `.weights.h5` files
    address variables by attribute path, so files written then load
    unchanged.

    The logits and the softmax run in float32 whatever the dtype policy;
    the probabilities are cast back to the compute dtype. Keys and values
    are not repeated per query head: the query is viewed as `[..., key/value
    heads, group, head_dim]` and the einsums broadcast over the group.
    """

    def __init__(
        self,
        head_dim,
        num_query_heads,
        num_key_value_heads,
        dropout=0.0,
        use_bias=True,
        use_output_norm=True,
        norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.head_dim = head_dim
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_groups = num_query_heads // num_key_value_heads
        self.dropout = dropout
        self.use_bias = use_bias
        self.use_output_norm = use_output_norm
        self.norm_epsilon = norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(head_dim))
        # The projected input may carry the Keras mask of the outer layer's
        # input; masking itself uses the explicit `padding_mask`.
        self.supports_masking = True

    def _dense(self, equation, output_shape, bias_axes, name):
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        # Creation order is the order of `weights` and `get_weights()`:
        # query, key, value, output projection, norm (as before).
        q_heads = (None, self.num_query_heads, self.head_dim)
        kv_heads = (None, self.num_key_value_heads, self.head_dim)
        self._query_dense = self._dense("bqm,muh->bquh", q_heads, "uh", "query")
        self._query_dense.build(input_shape)
        self._key_dense = self._dense("bkm,mvh->bkvh", kv_heads, "vh", "key")
        self._key_dense.build(input_shape)
        self._value_dense = self._dense(
            "bkm,mvh->bkvh", kv_heads, "vh", "value"
        )
        self._value_dense.build(input_shape)
        self._dropout_layer = keras.layers.Dropout(
            rate=self.dropout, seed=self.seed, dtype=self.dtype_policy
        )
        heads_shape = (None, None, self.num_query_heads, self.head_dim)
        self._output_dense = self._dense(
            "bquh,uhm->bqm", (None, input_shape[-1]), "m", "attention_output"
        )
        self._output_dense.build(heads_shape)
        self._output_norm = None
        if self.use_output_norm:
            # One norm over all heads jointly, as a LayerNorm on the
            # concatenated `[..., heads * head_dim]` vector would be.
            self._output_norm = keras.layers.LayerNormalization(
                axis=(-2, -1),
                epsilon=self.norm_epsilon,
                dtype=self.dtype_policy,
                name="output_norm",
            )
            self._output_norm.build(heads_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        kv_heads, groups = self.num_key_value_heads, self.num_groups
        query = self._query_dense(inputs)  # [b, t, heads, h]
        key = self._key_dense(inputs)  # [b, s, kv heads, h]
        value = self._value_dense(inputs)
        # Scale the query, then take the dot products (Keras's GQA order):
        # float32 results agree with the earlier layer's to rounding.
        query = ops.cast(query, "float32") * self._inverse_sqrt_head_dim
        query = ops.reshape(
            query, (batch, length, kv_heads, groups, self.head_dim)
        )
        logits = ops.einsum(
            "btkgh,bskh->bkgts", query, ops.cast(key, "float32")
        )
        if padding_mask is not None:
            # Keys only. `where`, not an additive bias: a padded key never
            # takes part in the max, whatever the logits' range.
            keep = ops.reshape(
                ops.cast(padding_mask, "bool"), (batch, 1, 1, 1, length)
            )
            logits = ops.where(keep, logits, ops.full_like(logits, -1e9))
        probs = ops.softmax(logits, axis=-1)
        if padding_mask is not None:
            # A row whose keys are all padded gives zeros, not uniform.
            probs = ops.where(keep, probs, ops.zeros_like(probs))
        probs = ops.cast(probs, self.compute_dtype)
        # [b, heads, t, s]; head u = k * groups + g, as `repeat` would give.
        scores = ops.reshape(
            probs, (batch, self.num_query_heads, length, length)
        )
        if self.dropout > 0.0:
            # Drops whole keys per query, as in the original Transformer.
            probs = ops.reshape(
                self._dropout_layer(scores, training=training),
                (batch, kv_heads, groups, length, length),
            )
        outputs = ops.einsum("bkgts,bskh->btkgh", probs, value)
        outputs = ops.reshape(
            outputs, (batch, length, self.num_query_heads, self.head_dim)
        )
        if self._output_norm is not None:
            outputs = self._output_norm(outputs)
        outputs = self._output_dense(outputs)
        if return_attention_scores:
            return outputs, scores
        return outputs


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
       (`num_query_heads` query heads share `num_key_value_heads` key/value
       heads of size `head_dim`; the projections and variable layout of
       `keras.layers.GroupQueryAttention`), with a LayerNorm on the
       attention output before the output projection (the paper's MAGNETO
       placement; `use_output_norm=False` drops it). Its logits and softmax
       run in float32 under any dtype policy.

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
            check_positive_int(name, value)
        if head_dim is None:
            if hidden_dim % num_query_heads:
                raise ValueError(
                    f"`hidden_dim` ({hidden_dim}) is not divisible by "
                    f"`num_query_heads` ({num_query_heads}); pass `head_dim` "
                    "explicitly."
                )
            head_dim = hidden_dim // num_query_heads
        check_positive_int("head_dim", head_dim)
        if num_query_heads % num_key_value_heads:
            raise ValueError(
                f"`num_query_heads` ({num_query_heads}) must be divisible by "
                f"`num_key_value_heads` ({num_key_value_heads})."
            )
        check_choice("formulation", formulation, FORMULATIONS)
        dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, include_maximum=False
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
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)
        self.grouped_query_attention = _GroupedQueryAttention(
            head_dim=self.head_dim,
            num_query_heads=self.num_query_heads,
            num_key_value_heads=self.num_key_value_heads,
            dropout=self.dropout,
            use_bias=self.use_bias,
            use_output_norm=self.use_output_norm,
            norm_epsilon=self.norm_epsilon,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="grouped_query_attention",
        )
        hidden_shape = tuple(input_shape[:-1]) + (self.hidden_dim,)
        self.grouped_query_attention.build(hidden_shape)
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
        # Every query may attend to real keys only. Queries are not masked:
        # a padded query's output (and score row) is zeroed below instead.
        result = self.grouped_query_attention(
            hidden,
            padding_mask=key_mask,
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
