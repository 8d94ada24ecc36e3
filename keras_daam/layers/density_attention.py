"""Multi-Head Density Adaptive Attention (DAAM)."""

import math
import warnings

import keras
from keras import ops

from keras_daam.utils import check_choice
from keras_daam.utils import check_float
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

FORMULATIONS = ("paper", "package", "mixture", "jepa")

# Default numerical floor of the variance, per formulation: added to it,
# except for "jepa", where the variance is clamped below at it.
# "paper": |var| + 1e-8, then + 1e-5 inside the square root (Algorithm 1);
# the two are merged here because only their sum ever reaches the maths.
_DEFAULT_EPSILON = {
    "paper": 1e-5 + 1e-8,
    "package": 1e-8,
    "mixture": 1e-5,
    "jepa": 1e-6,
}
# Default output mode: gate (x * G, G in (0, 1]) or normalise along the axis.
_DEFAULT_NORMALIZE = {
    "paper": False,
    "package": True,
    "mixture": True,
    "jepa": False,
}
# Mixture scales are softplus(raw) + this floor, so they never reach zero.
_MIXTURE_SCALE_FLOOR = 1e-2
# "jepa" (Density-Adaptive JEPA): sigma_k = softplus(raw_k) + this floor,
# raw initialised to log(0.5), and this constant added to std * sigma_k.
_JEPA_SCALE_FLOOR = 1e-3
_JEPA_SCALE_INIT = math.log(0.5)
_JEPA_DENOMINATOR_EPSILON = 1e-8
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# softplus(_SOFTPLUS_ONE) == 1.0: mixture scales start at about one std.
_SOFTPLUS_ONE = math.log(math.e - 1.0)
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@keras.saving.register_keras_serializable(package="keras_daam")
class LogNormal(keras.initializers.Initializer):
    """Initializer drawing `exp(N(mean, stddev))`: positive, spread scales.

    The authors' newest code initialises the package formulation's scales
    `c` this way (`c = exp(N(0, 1))`).

    Args:
        mean: float. Mean of the underlying normal. Defaults to `0.0`.
        stddev: float. Standard deviation of the underlying normal.
            Defaults to `1.0`.
        seed: int, optional. Seed for reproducible draws.
    """

    def __init__(self, mean=0.0, stddev=1.0, seed=None):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self._normal = keras.initializers.RandomNormal(
            mean=mean, stddev=stddev, seed=seed
        )

    def __call__(self, shape, dtype=None):
        return ops.exp(self._normal(shape, dtype=dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_daam")
class DensityAdaptiveAttention(keras.layers.Layer):
    """Multi-Head Density Adaptive Attention (DAAM).

    DAAM replaces dot-product attention with a learned Gaussian gate
    ([Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)). Along the
    normalisation `axis` it takes the input's own mean and variance, shifts
    the mean by a learned offset, scales the spread by a learned factor,
    evaluates a Gaussian at every element and multiplies the input by it.
    The axis is split into `num_heads` contiguous, equal groups; each head
    has its own parameters and its own statistics. The cost is linear in the
    input size: there is no N x N score matrix.

    Four formulations are offered (`formulation=`):

    - `"paper"`: what produced every number in the paper (Algorithm 1).
      `mu, var` = mean and population variance along the head's span,
      `z = (x - mu - delta) / sqrt(var + epsilon)`,
      `G = exp(-z**2 / (2 * xi))` (`xi` is not squared) and the output is
      `x * G` with `G` in `(0, 1]`. Parameters `delta` (`mean_offset`,
      initialised to 0) and `xi` (`scale`, initialised to 2) are per
      feature along `feature_axis` (the last axis by default), as in the
      paper's experiments. `xi` is not constrained; it has no meaning
      below 0.
    - `"package"`: the authors' PyPI package `gaussian-adaptive-attention`
      (the paper's "Mixture of DAAM" appendix). Unbiased variance,
      `K = num_densities` Gaussians with scalar offsets `m_k` and scales
      `c_k` per head, `g_k = N((x - mu - m_k) / sqrt(var); 0, c_k)`, their
      product normalised to sum to one along the head's span, output
      `x * W`. The product of Gaussians in one variable is one Gaussian, so
      it is computed in closed form as a softmax of a quadratic: the cost
      does not grow with `K`, and it cannot underflow (the original's
      weights silently stop summing to one when it does).
    - `"mixture"`: a true mixture `sum_k pi_k N(z; m_k, s_k)` of densities on
      the standardised value `z = (x - mu) / sqrt(var + epsilon)` with
      learnable weights `pi = softmax(mixture_logits)` and scales
      `s = softplus(scale) + 0.01`, computed in log space. Offsets `m_k` are
      in standard deviations here (not in the input's units).
    - `"jepa"`: the authors' numerically stabilised formulation of 2025
      ([Density-Adaptive JEPA](https://arxiv.org/abs/2512.07168),
      `GaussianAdaptiveAttention`). Population variance clamped below at
      `epsilon` (`1e-6`), `std = sqrt(var)`; per density `k` an offset
      `m_k` (`mean_offset`, in the input's units, initialised to 0) and a
      scale `sigma_k = softplus(scale_k) + 1e-3` (raw `scale` initialised
      to `log(0.5)`, so `sigma_k` starts at about 0.41);
      `z_k = (x - mu - m_k) / (std * sigma_k + 1e-8)`,
      `log N_k = -z_k**2 / 2 - log(sigma_k) - log(sqrt(2 pi))` and the gate
      is the *mean* of the `K` normalised densities,
      `G = exp(logsumexp_k(log N_k) - log K)`, computed in log space. The
      output is `x * G`, not normalised along the axis. `G` is a density
      in `z`, so it may exceed 1 where `sigma_k < 1 / sqrt(2 pi)`.
      Parameters are scalars per head and density, as the authors'
      (`num_heads=1` is their module, which ignores its `num_heads`).

    `normalize` chooses the output mode for any formulation: `True` turns
    the (log-)density into weights that sum to one along each head's span
    (a masked, max-subtracted softmax); `False` uses it as a gate
    (in `(0, 1]` except for `"jepa"`; for `"mixture"` the gate is the
    mixture of unnormalised Gaussian kernels
    `sum_k pi_k exp(-(z - m_k)**2 / (2 s_k**2))`; for `"jepa"` it is the
    gate above, and `normalize=True` is `softmax(log G)` along the span).

    Numerics: statistics and density maths run in float32 whatever the
    dtype policy (float64 when the layer computes in float64) and the
    result is cast back; weights are float32. Constant inputs, huge
    magnitudes and tiny variances give finite outputs. NaN or Inf in the
    input is not hidden: it propagates to the outputs of the head that
    contains it.

    Masking: a padding mask (`True` = real element) excludes padded
    elements from the mean, the variance and the normalisation sums.
    Padded elements get a weight of zero, so their output is zero. A head
    span with no real element yields zeros, never NaN.

    Degenerate heads: standardising `n` values leaves little freedom when
    `n` is small. With `n = 1` element per head the variance is 0, the gate
    is a constant and has zero gradient with respect to the input; with
    `n = 2` the standardised values are always -1 and +1, so the gate is a
    per-feature constant. The paper's own setting (8 heads over 24 layers,
    `n = 3`) is barely above this. The layer warns at build time when
    `n <= 2`.

    Args:
        num_heads: int. Number of heads: contiguous, equal groups along
            `axis`. The axis length must be divisible by it (and known when
            the layer is built, unless `num_heads=1`). Defaults to 1.
        num_densities: int. Number of Gaussian densities per head (`K`).
            Defaults to 1.
        axis: int. The normalisation axis (negative counts from the end).
            It may not be the batch axis 0. Defaults to 1 (the layer axis of
            stacked hidden states `[batch, layers, features]`).
        formulation: str. One of `"paper"`, `"package"`, `"mixture"`,
            `"jepa"`. Defaults to `"paper"`.
        feature_axis: int, `None` or `"auto"`. If an int, parameters are
            vectors along this axis (one value per feature, per head and
            density); if `None`, they are scalars per head and density.
            `"auto"` means `-1` for `"paper"` and `None` otherwise.
        normalize: bool or `None`. Output mode (see above). `None` means the
            formulation's own: `False` for `"paper"` and `"jepa"`, `True`
            otherwise.
        epsilon: float or `None`. Floor of the variance: added to it, or
            for `"jepa"` its lower clamp (`var = max(var, epsilon)`, the
            `1e-8` added to `std * sigma_k` stays fixed). `None` means the
            formulation's own: `1.001e-5` for `"paper"` (its `1e-8` and
            `1e-5` combined), `1e-8` for `"package"`, `1e-5` for
            `"mixture"`, `1e-6` for `"jepa"`.
        mean_offset_initializer: initializer for the offsets. Defaults to
            zeros (`"mixture"`: `RandomNormal(stddev=0.5)`, to break the
            symmetry between densities).
        scale_initializer: initializer for the scales. Defaults to
            `Constant(2.0)` (`"paper"`), `LogNormal()` (`"package"`, as the
            authors' newest code), `softplus^-1(1)` (`"mixture"`) or
            `Constant(log(0.5))` (`"jepa"`, the raw value of `sigma`).
        seed: int, optional. Seed of the default random initializers.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor of rank >= 2.
        padding_mask: optional boolean tensor, `True` for real elements.
            Either the input's shape (or broadcastable to it), a prefix of
            it (`[batch, layers]` for `[batch, layers, features]`; trailing
            axes are broadcast), or `[batch, axis_length]`. If not given,
            the Keras mask of the input (`mask=`) is used.
        return_attention_scores: bool. If `True`, also return the gate or
            weights (the Density Attention map) with the input's shape.
        mask: the Keras mask, filled in by Keras.

    Returns:
        The gated input, same shape and dtype as `inputs`; with
        `return_attention_scores=True` a tuple `(outputs, scores)`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> x = np.random.normal(size=(4, 24, 64)).astype("float32")
    >>> layer = keras_daam.layers.DensityAdaptiveAttention(num_heads=8)
    >>> y, gate = layer(x, return_attention_scores=True)
    >>> tuple(y.shape), tuple(gate.shape)
    ((4, 24, 64), (4, 24, 64))

    References:
        - [Ioannides, Chadha, Elkins. Density Adaptive Attention is All You
          Need. arXiv:2401.11143](https://arxiv.org/abs/2401.11143)
        - [Ioannides et al. JEPA as a Neural Tokenizer: Learning Robust
          Speech Representations with Density Adaptive Attention.
          arXiv:2512.07168](https://arxiv.org/abs/2512.07168) (the `"jepa"`
          formulation; code: `gioannides/Density-Adaptive-JEPA`)
    """

    def __init__(
        self,
        num_heads=1,
        num_densities=1,
        axis=1,
        formulation="paper",
        feature_axis="auto",
        normalize=None,
        epsilon=None,
        mean_offset_initializer=None,
        scale_initializer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("formulation", formulation, FORMULATIONS)
        num_heads = check_positive_int("num_heads", num_heads)
        num_densities = check_positive_int("num_densities", num_densities)
        axis = check_int("axis", axis)
        if feature_axis == "auto":
            feature_axis = -1 if formulation == "paper" else None
        if feature_axis is not None and (
            isinstance(feature_axis, bool) or not isinstance(feature_axis, int)
        ):
            raise ValueError(
                "`feature_axis` must be an integer, None or 'auto'. "
                f"Received: {feature_axis!r}"
            )
        if normalize is not None and not isinstance(normalize, bool):
            raise ValueError(
                f"`normalize` must be True, False or None. Received: "
                f"{normalize!r}"
            )
        if epsilon is None:
            epsilon = _DEFAULT_EPSILON[formulation]
        epsilon = check_float(
            "epsilon", epsilon, minimum=0.0, include_minimum=False
        )
        self.num_heads = num_heads
        self.num_densities = num_densities
        self.axis = axis
        self.formulation = formulation
        self.feature_axis = feature_axis
        self.normalize = (
            _DEFAULT_NORMALIZE[formulation] if normalize is None else normalize
        )
        self.epsilon = float(epsilon)
        self.seed = seed
        self.mean_offset_initializer = keras.initializers.get(
            mean_offset_initializer or self._default_offset_initializer()
        )
        self.scale_initializer = keras.initializers.get(
            scale_initializer or self._default_scale_initializer()
        )
        self.supports_masking = True

    def _default_offset_initializer(self):
        if self.formulation == "mixture":
            return keras.initializers.RandomNormal(stddev=0.5, seed=self.seed)
        return keras.initializers.Zeros()

    def _default_scale_initializer(self):
        if self.formulation == "paper":
            return keras.initializers.Constant(2.0)
        if self.formulation == "package":
            return LogNormal(seed=self.seed)
        if self.formulation == "jepa":
            return keras.initializers.Constant(_JEPA_SCALE_INIT)
        return keras.initializers.Constant(_SOFTPLUS_ONE)

    # ------------------------------------------------------------------ build
    def _resolve_axes(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                "DensityAdaptiveAttention expects inputs of rank >= 2 "
                f"(batch first). Received input shape {tuple(input_shape)} "
                f"of rank {rank}."
            )
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"`axis`={self.axis} is out of range for inputs of rank "
                f"{rank} (shape {tuple(input_shape)})."
            )
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(
                "`axis` may not be the batch axis 0: statistics across the "
                "batch would mix samples. Received: "
                f"axis={self.axis} for input shape {tuple(input_shape)}."
            )
        feature_axis = None
        if self.feature_axis is not None:
            if not -rank <= self.feature_axis < rank:
                raise ValueError(
                    f"`feature_axis`={self.feature_axis} is out of range for "
                    f"inputs of rank {rank} (shape {tuple(input_shape)})."
                )
            feature_axis = self.feature_axis % rank
            if feature_axis in (0, axis):
                raise ValueError(
                    "`feature_axis` must differ from the batch axis and from "
                    f"`axis`. Received: axis={self.axis}, feature_axis="
                    f"{self.feature_axis} for input shape "
                    f"{tuple(input_shape)}. Use feature_axis=None for "
                    "scalar parameters."
                )
            if input_shape[feature_axis] is None:
                raise ValueError(
                    "The size of `feature_axis` must be known when the layer "
                    f"is built. Received input shape {tuple(input_shape)}, "
                    f"feature_axis={self.feature_axis}."
                )
        return rank, axis, feature_axis

    def build(self, input_shape):
        rank, axis, feature_axis = self._resolve_axes(input_shape)
        length = input_shape[axis]
        if length is None and self.num_heads > 1:
            raise ValueError(
                "The length of the normalisation axis must be known when "
                f"the layer is built with several heads (num_heads="
                f"{self.num_heads}). Received input shape "
                f"{tuple(input_shape)}, axis={self.axis}."
            )
        if length is None:
            # One head spans the whole axis, whatever its length at call.
            span = None
        elif length % self.num_heads:
            raise ValueError(
                f"The length of axis {self.axis} ({length}) is not divisible "
                f"by num_heads ({self.num_heads}). Heads are contiguous equal "
                "groups along the axis; choose a divisor of the length."
            )
        else:
            span = length // self.num_heads
        if span is not None and span <= 2:
            detail = (
                "the variance is 0, so the gate is a constant with zero "
                "gradient with respect to the input"
                if span == 1
                else "the standardised values are always -1 and +1, so the "
                "gate is a per-feature constant"
            )
            warnings.warn(
                f"{self.name}: each of the {self.num_heads} heads spans only "
                f"{span} element(s) of axis {self.axis} (length {length}): "
                f"{detail}. Use fewer heads or attend along a longer axis.",
                stacklevel=2,
            )
        self._rank = rank
        self._norm_axis = axis
        self._param_axis = feature_axis
        self._span = span
        param_shape = (self.num_heads, self.num_densities)
        if feature_axis is not None:
            param_shape += (input_shape[feature_axis],)
        self.mean_offset = self.add_weight(
            name="mean_offset",
            shape=param_shape,
            initializer=self.mean_offset_initializer,
            dtype="float32",
        )
        self.scale = self.add_weight(
            name="scale",
            shape=param_shape,
            initializer=self.scale_initializer,
            dtype="float32",
        )
        if self.formulation == "mixture":
            self.mixture_logits = self.add_weight(
                name="mixture_logits",
                shape=param_shape,
                initializer="zeros",
                dtype="float32",
            )
        self.built = True

    # ------------------------------------------------------------- helpers
    def _maths_dtype(self):
        if keras.backend.standardize_dtype(self.compute_dtype) == "float64":
            return "float64"
        return "float32"

    def _param_layout(self, param):
        """Reshape `[H, K(, d)]` parameters to broadcast on the split input.

        The split input has rank `rank + 1`: heads at `axis`, the head span
        at `axis + 1` (with one head the input is not split: the span is
        `axis`). The density axis `K` goes last, after every input axis, so
        that densities can be reduced without a transpose.
        """
        rank, axis = self._rank, self._norm_axis
        split = self.num_heads > 1  # see `_split_heads`
        shape = [1] * (rank + (2 if split else 1))
        shape[axis] = self.num_heads
        shape[-1] = self.num_densities
        if self._param_axis is not None:
            pos = self._param_axis + (
                1 if split and self._param_axis > axis else 0
            )
            shape[pos] = param.shape[-1]
            # [H, K, d] -> the order H and d have in the input, K last.
            perm = (0, 2, 1) if pos > axis else (2, 0, 1)
            param = ops.transpose(param, perm)
        return ops.reshape(param, shape)

    def _product_coefficients(self, dtype):
        """Closed form of a product of Gaussians in the same variable.

        `sum_k a_k (y - m_k)**2 = A (y - M)**2 + R` with `A = sum a_k`,
        `M = sum a_k m_k / A`, `R = sum a_k m_k**2 - A M**2 >= 0`.
        Returns `A, M, R`, each broadcastable on the split input and free of
        the density axis (the cost does not grow with `K`); `R` is `None`
        with one density or when the output is normalised (it cancels).
        """
        offset = ops.cast(self._param_layout(self.mean_offset), dtype)
        scale = ops.cast(self._param_layout(self.scale), dtype)
        if self.formulation == "paper":
            coef = 0.5 / scale  # exp(-z^2 / (2 xi)): xi is a variance.
        else:
            coef = 0.5 / ops.square(scale)  # package: c is a std.
        if self.num_densities == 1:
            return coef[..., 0], offset[..., 0], None
        a_sum = ops.sum(coef, axis=-1)
        safe = ops.where(ops.equal(a_sum, 0), ops.ones_like(a_sum), a_sum)
        center = ops.sum(coef * offset, axis=-1) / safe
        if self.normalize:
            # R / var is constant along the axis: it cancels in a softmax.
            return a_sum, center, None
        rest = ops.sum(coef * ops.square(offset), axis=-1) - a_sum * ops.square(
            center
        )
        return a_sum, center, ops.maximum(rest, 0)

    def _split_heads(self, x):
        if self.num_heads == 1:
            # No size-1 heads axis: XLA on CPU reduces over the span about 4x
            # slower in the backward pass when one sits next to it.
            return x
        axis = self._norm_axis
        shape = list(ops.shape(x))
        new_shape = (
            shape[:axis] + [self.num_heads, self._span] + shape[axis + 1 :]
        )
        return ops.reshape(x, new_shape)

    def _standardize_mask(self, mask, input_shape):
        """Return a boolean mask broadcastable to the input, or raise."""
        mask_shape = tuple(mask.shape)
        rank = self._rank
        in_shape = tuple(input_shape)

        def compatible(a, b):
            return a is None or b is None or a == b or a == 1

        if len(mask_shape) == rank:
            if all(compatible(m, s) for m, s in zip(mask_shape, in_shape)):
                return ops.cast(mask, "bool")
        elif 1 <= len(mask_shape) < rank:
            prefix = in_shape[: len(mask_shape)]
            if all(compatible(m, s) for m, s in zip(mask_shape, prefix)):
                mask = ops.cast(mask, "bool")
                for _ in range(rank - len(mask_shape)):
                    mask = ops.expand_dims(mask, -1)
                return mask
            if len(mask_shape) == 2 and all(
                compatible(m, s)
                for m, s in zip(
                    mask_shape, (in_shape[0], in_shape[self._norm_axis])
                )
            ):
                mask = ops.cast(mask, "bool")
                shape = [1] * rank
                full = list(ops.shape(mask))
                shape[0] = full[0]
                shape[self._norm_axis] = full[1]
                return ops.reshape(mask, shape)
        raise ValueError(
            f"The padding mask of shape {mask_shape} does not fit inputs of "
            f"shape {in_shape}: expected the input's shape, a prefix of it, "
            f"or (batch, length of axis {self.axis})."
        )

    # ------------------------------------------------------------------ call
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
                "DensityAdaptiveAttention expects floating-point inputs. "
                f"Received inputs of dtype {in_dtype}."
            )
        if len(inputs.shape) != self._rank:
            raise ValueError(
                f"Expected inputs of rank {self._rank} (the rank the layer "
                f"was built with). Received shape {tuple(inputs.shape)}."
            )
        length = inputs.shape[self._norm_axis]
        if (
            self._span is not None
            and length is not None
            and length != self._span * self.num_heads
        ):
            # The statistics divide by the built length: refuse another.
            raise ValueError(
                f"The layer was built for a length of "
                f"{self._span * self.num_heads} along axis {self.axis}; "
                f"received inputs of shape {tuple(inputs.shape)}. Build it "
                "with that axis of unknown length (None, one head only) to "
                "take several lengths."
            )
        if padding_mask is None:
            padding_mask = mask
        dtype = self._maths_dtype()
        x = ops.cast(inputs, dtype)
        input_shape = ops.shape(x)
        xs = self._split_heads(x)
        # The head-span axis after splitting (not split with one head).
        red = self._norm_axis + (1 if self.num_heads > 1 else 0)

        # In eager mode every full-size op costs a kernel and a fresh
        # buffer, and about two of each in the backward pass, so the maths
        # below keeps them few, with values and gradients equal bit for bit
        # to the plain expressions: squares as `t * t` (the backward of
        # `square` is a `pow` that copies), the variance's sum of squares
        # with a one-product backward (`_sum_of_squares`), per-head
        # constants combined on the statistics tensors first, broadcast
        # constants added negated rather than subtracted (the backward of a
        # subtraction negates the full-size gradient before reducing it),
        # and intermediates released as soon as they are used: fewer live
        # buffers keep the allocator from handing memory back to the system
        # and faulting it in again on every call.
        if padding_mask is not None:
            m = self._standardize_mask(padding_mask, inputs.shape)
            m = self._split_heads(ops.broadcast_to(m, input_shape))
            # `where`, not a product: padded values (even Inf) never leak in.
            xs = ops.where(m, xs, 0.0)
            real = m
            m = ops.cast(m, dtype)
            count = ops.sum(m, axis=red, keepdims=True)
            safe_count = ops.maximum(count, 1.0)
            neg_mean = ops.sum(xs, axis=red, keepdims=True) / -safe_count
            centered = (xs + neg_mean) * m
        else:
            m = real = None
            if self._span is None:  # one head over an axis of unknown length
                count = ops.cast(ops.shape(xs)[red], dtype)
            else:
                count = float(self._span)
            safe_count = count
            # sum / count, not ops.mean: Keras's torch `mean` computes in
            # float32 even for float64 inputs (keras 3.15).
            neg_mean = ops.sum(xs, axis=red, keepdims=True) / -count
            centered = xs + neg_mean
        # Two-pass variance: E[(x - mu)^2] rather than E[x^2] - mu^2, which
        # cancels catastrophically for large magnitudes. Not `ops.var` or
        # `ops.moments`: `torch.var` over a non-trailing axis is ~50x slower
        # on CPU, and `moments` uses E[x^2] - mu^2 on some backends.
        sq_sum = self._sum_of_squares(centered, red)
        if self.formulation == "package":
            # unbiased, as the authors' torch.var
            denom = (
                ops.maximum(count - 1.0, 1.0)
                if m is not None or self._span is None
                else float(max(self._span - 1, 1))
            )
        else:
            denom = safe_count
        if self.formulation == "jepa":
            # Clamped, not shifted: the authors' `var.clamp_min(1e-6)`.
            var = ops.maximum(sq_sum / denom, self.epsilon)
        else:
            var = sq_sum / denom + self.epsilon
        if self.formulation == "mixture":
            logits = self._mixture_log_density(centered, var, dtype)
            del centered
        elif self.formulation == "jepa":
            logits = self._jepa_log_gate(centered, var, dtype)
            del centered
        else:
            # -(A (y - M)^2 + R) / var, y = x - mu: one quadratic whatever
            # K. `y - M` is formed from the centred `y` (not as
            # `x - (mu + M)`) to keep its precision for large magnitudes.
            factor, center, constant = self._quadratic(dtype, var)
            logits = centered + (-center)
            del centered
            logits = logits * logits
            logits = logits * factor
            if constant is not None:
                logits = logits + constant
        if self.normalize:
            if m is None:
                # One fused, max-subtracted kernel where the backend has one
                # (eager PyTorch); XLA fuses the same steps on its own.
                weights = ops.softmax(logits, axis=red)
            else:
                weights = self._masked_softmax(logits, real, m, red)
        else:
            weights = ops.exp(logits)
            if m is not None:
                weights = weights * m
        del logits
        outputs = xs * weights
        outputs = ops.cast(
            ops.reshape(outputs, input_shape), self.compute_dtype
        )
        if return_attention_scores:
            scores = ops.cast(
                ops.reshape(weights, input_shape), self.compute_dtype
            )
            return outputs, scores
        return outputs

    @staticmethod
    def _sum_of_squares(t, axis):
        """`sum(t * t)` along `axis`, with a one-product backward pass.

        `S = sum(t * stop_gradient(t))` has the value of `sum(t**2)` and
        half its gradient; `2 S - stop_gradient(S)` has the same value
        (exactly: scaling by 2 and Sterbenz's subtraction are exact) and
        the whole gradient `2 t`, computed as one product of the (small)
        upstream gradient with `t`. Differentiating `t * t` instead costs
        two full-size products and a sum of the two.
        """
        half = ops.sum(t * ops.stop_gradient(t), axis=axis, keepdims=True)
        return 2.0 * half - ops.stop_gradient(half)

    def _quadratic(self, dtype, var):
        """Statistics-sized `F, M, C`: log-density `F (y - M)**2 + C`.

        `F = -A / var`, `C = -R / var` (`None` where it cancels: in a
        softmax, or with one density); see `_product_coefficients`. The
        signs go on the per-head `A` and `R`, not on the statistics-sized
        products: on the paper's layer axis (3 layers per head) those are a
        third of the input's size, so each op on them counts.
        """
        a_sum, center, rest = self._product_coefficients(dtype)
        inv_var = ops.reciprocal(var)
        factor = -a_sum * inv_var
        if rest is None:
            return factor, center, None
        return factor, center, -rest * inv_var

    def _mixture_log_density(self, centered, var, dtype):
        offset = ops.cast(self._param_layout(self.mean_offset), dtype)
        scale = (
            ops.softplus(ops.cast(self._param_layout(self.scale), dtype))
            + _MIXTURE_SCALE_FLOOR
        )
        log_pi = ops.log_softmax(
            ops.cast(self._param_layout(self.mixture_logits), dtype), axis=-1
        )
        z = centered * ops.rsqrt(var)
        diff = (ops.expand_dims(z, -1) - offset) / scale
        log_k = log_pi - 0.5 * ops.square(diff)
        if self.normalize:
            # A proper density: its normalising constant differs per k.
            log_k = log_k - ops.log(scale)
        return ops.logsumexp(log_k, axis=-1)

    def _jepa_log_gate(self, centered, var, dtype):
        """`log G = logsumexp_k(log N_k) - log K` of the "jepa" formulation.

        `z_k = (y - m_k) / (std * sigma_k + 1e-8)` with `y = x - mu` the
        centred input (the authors' `x - (mu + m_k)`, with the precision of
        the centred value for large magnitudes) and
        `log N_k = -z_k**2 / 2 - log sigma_k - log sqrt(2 pi)`.
        """
        offset = ops.cast(self._param_layout(self.mean_offset), dtype)
        sigma = (
            ops.softplus(ops.cast(self._param_layout(self.scale), dtype))
            + _JEPA_SCALE_FLOOR
        )
        # The per-density constant, on the (small) parameter tensors.
        log_norm = -ops.log(sigma) - _LOG_SQRT_2PI
        std = ops.sqrt(var)
        if self.num_densities == 1:
            # K = 1: logsumexp over one density is that density.
            z = (centered - offset[..., 0]) / (
                std * sigma[..., 0] + _JEPA_DENOMINATOR_EPSILON
            )
            return -0.5 * (z * z) + log_norm[..., 0]
        z = (ops.expand_dims(centered, -1) - offset) / (
            ops.expand_dims(std, -1) * sigma + _JEPA_DENOMINATOR_EPSILON
        )
        log_k = -0.5 * (z * z) + log_norm
        return ops.logsumexp(log_k, axis=-1) - math.log(self.num_densities)

    @staticmethod
    def _masked_softmax(logits, real, m, axis):
        # Mask with `where` (not an additive constant) so that padded
        # elements never win the max, whatever the logits' range. A span
        # with no real element sums to 0 and yields weights of 0.
        logits = ops.where(real, logits, -1e30)
        logits = logits - ops.stop_gradient(
            ops.max(logits, axis=axis, keepdims=True)
        )
        e = ops.exp(logits) * m
        total = ops.sum(e, axis=axis, keepdims=True)
        return e / ops.maximum(total, 1e-30)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        mask=None,
    ):
        out = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_attention_scores:
            return out, keras.KerasTensor(
                inputs.shape, dtype=self.compute_dtype
            )
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "num_densities": self.num_densities,
                "axis": self.axis,
                "formulation": self.formulation,
                "feature_axis": self.feature_axis,
                "normalize": self.normalize,
                "epsilon": self.epsilon,
                "mean_offset_initializer": keras.initializers.serialize(
                    self.mean_offset_initializer
                ),
                "scale_initializer": keras.initializers.serialize(
                    self.scale_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
