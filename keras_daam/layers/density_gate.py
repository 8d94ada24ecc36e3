"""Density Adaptive gated residual block (Density-Adaptive JEPA)."""

import numbers

import keras
from keras import ops

from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.utils import check_positive_int
from keras_daam.utils import clone_initializer

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _alpha_initializer(value):
    # A plain number means "start alpha there"; anything else is a Keras
    # initializer identifier.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return keras.initializers.Constant(float(value))
    return keras.initializers.get(value)


@keras.saving.register_keras_serializable(package="keras_daam")
class DensityAdaptiveGate(keras.layers.Layer):
    """Density Adaptive gated residual block over time, channels last.

    The gated residual block of the authors' Density-Adaptive JEPA
    ([Ioannides et al., 2025](https://arxiv.org/abs/2512.07168), class
    `GAttnGateG`): a 1x1 projection of the channels to one channel
    (`Dense(1)`), the `"jepa"` Density Adaptive gate of that channel along
    the time axis (`DensityAdaptiveAttention(formulation="jepa",
    num_heads=1, axis=1)`, the mean of `num_densities` Gaussian densities
    of the standardised projection) and a residual scaling of every
    channel:

        a = Dense(1)(x)                       # [batch, time, 1]
        G = jepa_gate_along_time(a)           # [batch, time, 1]
        y = x * (1 + alpha * G)

    with a learnable scalar `alpha`, initialised to `0.05`, so that the
    block starts close to the identity (`|y - x| <= 0.05 * G * |x|`). The
    gate maths is the one of `DensityAdaptiveAttention(formulation="jepa")`
    (its sublayer `gate_attention`) and runs in float32 whatever the dtype
    policy (float64 when the layer computes in float64); the projection
    runs in the compute dtype, the output is cast to it.

    Masking: a padding mask `[batch, time]` (`True` = real step; the Keras
    mask of the input when `padding_mask` is not given) excludes padded
    steps from the gate's statistics. Padded steps get a gate of 0 and an
    output of 0, as `DensityAdaptiveAttention` gives them, so a decoder
    never sees their values (even Inf). A sequence with no real step
    yields zeros. The mask is propagated unchanged.

    Args:
        num_densities: int. Number of Gaussian densities of the gate (`K`).
            Defaults to `4` (the authors').
        alpha_initializer: float or initializer. Initial value of the
            residual scale `alpha` (a number means `Constant(number)`).
            Defaults to `0.05` (the authors').
        kernel_initializer: initializer of the projection's kernel.
            Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of the projection's bias. Defaults to
            `"zeros"`.
        mean_offset_initializer: initializer of the gate's offsets `m_k`.
            Defaults to zeros.
        scale_initializer: initializer of the gate's raw scales (`sigma_k =
            softplus(raw) + 1e-3`). Defaults to `Constant(log(0.5))`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor `[batch, time, channels]`; `time` may be
            unknown until called.
        padding_mask: optional boolean tensor `[batch, time]` (or
            `[batch, time, 1]`), `True` for real steps. If not given, the
            Keras mask of the input (`mask=`) is used.
        return_attention_scores: bool. If `True`, also return the gate
            `G`, shape `[batch, time, 1]` (the shape it multiplies `x`
            with; 0 at padded steps).
        mask: the Keras mask, filled in by Keras.

    Returns:
        `y`, same shape as `inputs`, in the compute dtype; with
        `return_attention_scores=True` a tuple `(y, gate)`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> x = np.random.normal(size=(2, 50, 8)).astype("float32")
    >>> block = keras_daam.layers.DensityAdaptiveGate(num_densities=4)
    >>> y, gate = block(x, return_attention_scores=True)
    >>> tuple(y.shape), tuple(gate.shape)
    ((2, 50, 8), (2, 50, 1))

    References:
        - [Ioannides et al. JEPA as a Neural Tokenizer: Learning Robust
          Speech Representations with Density Adaptive Attention.
          arXiv:2512.07168](https://arxiv.org/abs/2512.07168) (code:
          `gioannides/Density-Adaptive-JEPA`, `GAttnGateG`)
        - [Ioannides, Chadha, Elkins. Density Adaptive Attention is All You
          Need. arXiv:2401.11143](https://arxiv.org/abs/2401.11143)
    """

    def __init__(
        self,
        num_densities=4,
        alpha_initializer=0.05,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        mean_offset_initializer=None,
        scale_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_densities = check_positive_int("num_densities", num_densities)
        try:
            self.alpha_initializer = _alpha_initializer(alpha_initializer)
        except ValueError as error:
            raise ValueError(
                "`alpha_initializer` must be a number or a Keras initializer. "
                f"Received: {alpha_initializer!r}"
            ) from error
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.mean_offset_initializer = (
            None
            if mean_offset_initializer is None
            else keras.initializers.get(mean_offset_initializer)
        )
        self.scale_initializer = (
            None
            if scale_initializer is None
            else keras.initializers.get(scale_initializer)
        )
        self.supports_masking = True

    def _maths_dtype(self):
        if keras.backend.standardize_dtype(self.compute_dtype) == "float64":
            return "float64"
        return "float32"

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "DensityAdaptiveGate expects inputs of shape [batch, time, "
                f"channels]. Received input shape {tuple(input_shape)} of "
                f"rank {len(input_shape)}."
            )
        if input_shape[-1] is None:
            raise ValueError(
                "The number of channels (last axis) must be known when the "
                f"layer is built. Received input shape {tuple(input_shape)}."
            )
        self.projection = keras.layers.Dense(
            1,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)
        # The density maths is numerically delicate: its own float32 policy
        # (the gate comes back in float32 under mixed precision).
        self.gate_attention = DensityAdaptiveAttention(
            num_heads=1,
            num_densities=self.num_densities,
            axis=1,
            formulation="jepa",
            feature_axis=None,
            mean_offset_initializer=(
                None
                if self.mean_offset_initializer is None
                else clone_initializer(self.mean_offset_initializer)
            ),
            scale_initializer=(
                None
                if self.scale_initializer is None
                else clone_initializer(self.scale_initializer)
            ),
            dtype=self._maths_dtype(),
            name="gate_attention",
        )
        # Built for any length of time: its statistics count the steps of
        # each call.
        self.gate_attention.build((None, None, 1))
        self.alpha = self.add_weight(
            name="alpha",
            shape=(),
            initializer=self.alpha_initializer,
            dtype="float32",
        )
        self.built = True

    def _standardize_mask(self, mask, inputs):
        mask_shape = tuple(mask.shape)
        if len(mask_shape) == 3 and mask_shape[-1] == 1:
            mask = ops.squeeze(mask, -1)
            mask_shape = mask_shape[:2]
        in_shape = tuple(inputs.shape)
        if len(mask_shape) != 2 or any(
            m is not None and s is not None and m != s
            for m, s in zip(mask_shape, in_shape[:2])
        ):
            raise ValueError(
                f"The padding mask of shape {mask_shape} does not fit inputs "
                f"of shape {in_shape}: expected (batch, time)."
            )
        return ops.cast(mask, "bool")

    def call(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        mask=None,
    ):
        in_dtype = keras.backend.standardize_dtype(inputs.dtype)
        if in_dtype not in _FLOAT_DTYPES:
            raise ValueError(
                "DensityAdaptiveGate expects floating-point inputs. Received "
                f"inputs of dtype {in_dtype}."
            )
        if padding_mask is None:
            padding_mask = mask
        if padding_mask is not None:
            padding_mask = self._standardize_mask(padding_mask, inputs)
        projected = self.projection(inputs)
        _, gate = self.gate_attention(
            projected, padding_mask=padding_mask, return_attention_scores=True
        )
        dtype = self._maths_dtype()  # the gate's dtype
        alpha = ops.cast(self.alpha, dtype)
        outputs = ops.cast(inputs, dtype) * (1.0 + alpha * gate)
        if padding_mask is not None:
            # `where`, not a product: padded values (even Inf) never leak.
            outputs = ops.where(padding_mask[:, :, None], outputs, 0.0)
        outputs = ops.cast(outputs, self.compute_dtype)
        if return_attention_scores:
            return outputs, ops.cast(gate, self.compute_dtype)
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        mask=None,
    ):
        out = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_attention_scores:
            gate_shape = tuple(inputs.shape[:2]) + (1,)
            return out, keras.KerasTensor(gate_shape, dtype=self.compute_dtype)
        return out

    def get_config(self):
        config = super().get_config()

        def optional(initializer):
            if initializer is None:
                return None
            return keras.initializers.serialize(initializer)

        config.update(
            {
                "num_densities": self.num_densities,
                "alpha_initializer": keras.initializers.serialize(
                    self.alpha_initializer
                ),
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "mean_offset_initializer": optional(
                    self.mean_offset_initializer
                ),
                "scale_initializer": optional(self.scale_initializer),
            }
        )
        return config
