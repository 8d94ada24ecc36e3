"""Adversarial values and the documented NaN/Inf behaviour.

Every formulation, output mode and dtype policy gets zeros, constants, a
1e-30 variance, magnitudes of 1e4 and 6e4 (the edge of float16), and
subnormals; outputs, maps and gradients must stay finite. NaN or Inf in the
input is the user's: the layer's docstring says it propagates to the
outputs of the head that contains it and is not hidden, which is tested
exactly here, along with every other head and row staying finite.
"""

import numpy as np
import pytest
from keras import ops

from keras_daam.layers import FORMULATIONS
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityBlock
from tests.robustness._utils import apply
from tests.robustness._utils import float_dtypes
from tests.robustness._utils import grads
from tests.robustness._utils import to_numpy

SHAPE = (2, 6, 3)  # [batch, axis (2 heads of 3), features]


def adversarial_inputs(dtype):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=SHAPE)
    tiny = {"float16": 6e-8, "bfloat16": 1e-40}.get(dtype, 1e-40)
    if dtype == "float64":
        tiny = 1e-310
    return {
        "zeros": np.zeros(SHAPE),
        "constant": np.full(SHAPE, -7.25),
        # std 1e-15 around 0 (representable) and around 1 (rounds to 1).
        "variance_1e-30": 1e-15 * noise,
        "variance_1e-30_offset": 1.0 + 1e-15 * noise,
        "magnitude_1e4": 1e4 * noise,
        "magnitude_6e4": np.clip(6e4 * noise, -6e4, 6e4),
        "constant_6e4": np.full(SHAPE, 6e4),
        "subnormal": tiny * np.sign(noise),
        "mixed_scales": noise * np.logspace(-20, 4, SHAPE[1])[:, None],
    }


def reference_float32(layer):
    """The same layer, same weights, under a float32 policy."""
    config = layer.get_config()
    config["dtype"] = "float32"
    ref = DensityAdaptiveAttention.from_config(config)
    ref.build(SHAPE)
    ref.set_weights(layer.get_weights())
    return ref


CONFIGS = [
    (formulation, normalize)
    for formulation in FORMULATIONS
    for normalize in (False, True)
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dtype", float_dtypes())
@pytest.mark.parametrize("formulation,normalize", CONFIGS)
def test_adversarial_values_stay_finite(dtype, formulation, normalize):
    layer = DensityAdaptiveAttention(
        num_heads=2,
        num_densities=3,
        formulation=formulation,
        normalize=normalize,
        seed=0,
        dtype=dtype,
    )
    inputs = adversarial_inputs(dtype)
    names = list(inputs)
    # All inputs in one batch (statistics are per sample): one call, and
    # on JAX one compilation, per mask variant.
    xt = ops.cast(np.concatenate([inputs[n] for n in names]), dtype)
    x_in = to_numpy(xt)
    rows = len(names) * SHAPE[0]
    mask = np.array([[True] * 5 + [False], [False] * 3 + [True] * 3])
    mask = np.tile(mask, (len(names), 1))
    cot = ops.convert_to_tensor(
        np.random.default_rng(1).normal(size=(rows,) + SHAPE[1:]), "float32"
    )
    ref = None
    for padding_mask in (None, mask):
        y, s = apply(
            layer, xt, padding_mask=padding_mask, return_attention_scores=True
        )
        y, s = to_numpy(y), to_numpy(s)
        dx, dws = grads(layer, xt, cot, padding_mask=padding_mask)
        for dw in dws:  # float32 weights: always finite
            assert np.isfinite(dw).all(), (padding_mask is not None, dws)
        if dtype == "float16":
            # The input gradient is returned in float16. Near-constant
            # spans of large values have a true gradient of order
            # |x| / sqrt(epsilon) (~2e6 at 6e4), beyond float16's range;
            # wherever the float32 gradient fits float16, it is finite.
            ref = ref or reference_float32(layer)
            x32 = ops.cast(xt, "float32")
            dx32, _ = grads(ref, x32, cot, padding_mask=padding_mask)
        for i, name in enumerate(names):
            rs = slice(i * SHAPE[0], (i + 1) * SHAPE[0])
            where = f"{name}, mask={padding_mask is not None}"
            assert np.isfinite(y[rs]).all(), where
            assert np.isfinite(s[rs]).all(), where
            # Never amplifies: a gate is <= 1, weights are <= 1.
            assert (np.abs(y[rs]) <= np.abs(x_in[rs]) * 1.01).all(), where
            if normalize:
                sums = s[rs].reshape(2, 2, 3, 3).sum(axis=2)
                expected = np.ones_like(sums)
                if padding_mask is not None:
                    # A head span with no real element: all-zero weights.
                    real = padding_mask[rs].reshape(2, 2, 3).any(axis=2)
                    expected *= real[..., None]
                np.testing.assert_allclose(
                    sums, expected, atol=2e-2, err_msg=where
                )
            if dtype != "float16":
                assert np.isfinite(dx[rs]).all(), where
            else:
                assert np.isfinite(dx32[rs]).all(), where
                fits = np.abs(dx32[rs]) < 3e4
                assert np.isfinite(dx[rs][fits]).all(), where


@pytest.mark.parametrize("formulation,normalize", CONFIGS)
def test_non_finite_input_propagates_to_its_head_only(formulation, normalize):
    layer = DensityAdaptiveAttention(
        num_heads=2,
        num_densities=2,
        formulation=formulation,
        normalize=normalize,
        seed=0,
    )
    shape = (4,) + SHAPE[1:]  # heads span elements 0..2 and 3..5
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    poisoned = np.zeros(shape, bool)
    # (row, element, feature, value); row 3 stays clean.
    for row, element, feature, bad in (
        (0, 4, 1, np.nan),
        (1, 0, 2, np.inf),
        (2, 5, 0, -np.inf),
    ):
        x[row, element, feature] = bad
        head = slice(0, 3) if element < 3 else slice(3, 6)
        poisoned[row, head, feature] = True
    y, s = apply(layer, x, return_attention_scores=True)
    y, s = to_numpy(y), to_numpy(s)
    # Not hidden: the whole head span of that row and feature is NaN ...
    assert np.isnan(y[poisoned]).all() and np.isnan(s[poisoned]).all()
    # ... and nothing else is touched: other heads, rows, features.
    assert np.isfinite(y[~poisoned]).all() and np.isfinite(s[~poisoned]).all()
    clean = to_numpy(apply(layer, np.nan_to_num(x, posinf=0, neginf=0)))
    # Same values (XLA may reorder a reduction: allow float rounding).
    np.testing.assert_allclose(y[~poisoned], clean[~poisoned], rtol=1e-6)


def test_non_finite_padded_input_is_ignored():
    layer = DensityAdaptiveAttention(num_heads=2, formulation="package")
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    mask = np.ones(SHAPE[:2], bool)
    mask[0, 4] = False
    x[0, 4, :] = [np.nan, np.inf, -np.inf]
    y = to_numpy(apply(layer, x, padding_mask=mask))
    assert np.isfinite(y).all()
    assert (y[0, 4] == 0).all()


def test_density_block_non_finite_stays_in_its_row():
    # A block mixing the layer axis and the feature axis spreads a NaN over
    # its row's heads in both, but never across the batch.
    block = DensityBlock(
        num_layers=2, axes=[1, 2], num_heads=[2, 3], num_densities=2, seed=0
    )
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    x[1, 0, 0] = np.nan
    y = to_numpy(apply(block, x))
    assert np.isfinite(y[0]).all()
    assert np.isnan(y[1, 0, 0])
