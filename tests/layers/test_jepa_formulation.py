"""`DensityAdaptiveAttention(formulation="jepa")` (SPEC 2.4).

Oracles: the NumPy transcription `numpy_reference.jepa_daam` (float64) and
the authors' PyTorch module `GaussianAdaptiveAttention` (Density-Adaptive
JEPA), transcribed in `authors_jepa.py`. Saving under one backend and
loading under another (with gradients) is checked for jepa layers and the
gate together in `test_density_gate.py` (one subprocess for both).
"""

import math
import os

import keras
import numpy as np
import pytest
from keras import ops
from keras.src import testing

from keras_daam.layers import DensityAdaptiveAttention
from tests.backend_utils import to_numpy
from tests.layers import authors_jepa as authors
from tests.layers import numpy_reference as ref
from tests.layers.compiled import compiled_call

# sigma at initialisation: softplus(log(0.5)) + 1e-3 = log(1.5) + 1e-3.
SIGMA_INIT = math.log(1.5) + 1e-3


def _x(shape, seed=0, scale=1.0, loc=0.0):
    rng = np.random.default_rng(seed)
    return (loc + scale * rng.normal(size=shape)).astype("float32")


def _jepa(**kwargs):
    return DensityAdaptiveAttention(formulation="jepa", **kwargs)


def _set_params(layer, seed=0):
    rng = np.random.default_rng(seed)
    shape = layer.mean_offset.shape
    layer.mean_offset.assign(rng.normal(0, 0.5, shape).astype("float32"))
    # raw scales from about -1.5 to 0.9: sigma from about 0.2 to 1.2
    layer.scale.assign(rng.normal(-0.3, 0.6, shape).astype("float32"))


class JepaFormulationTest(testing.TestCase):
    # ------------------------------------------------------------ basics
    def test_layer_basics(self):
        self.run_layer_test(
            DensityAdaptiveAttention,
            init_kwargs={
                "num_heads": 2,
                "num_densities": 3,
                "formulation": "jepa",
            },
            input_shape=(2, 6, 5),
            expected_output_shape=(2, 6, 5),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
            run_mixed_precision_check=True,
            # fit() under jit: the heads tests train these layers
            # (tests/heads/test_jepa_heads.py), the gradients are checked
            # across backends in test_density_gate.py.
            run_training_check=False,
        )

    def test_defaults_are_the_authors(self):
        layer = _jepa(num_heads=2, num_densities=4)
        layer.build((None, 6, 8))
        self.assertFalse(layer.normalize)
        self.assertEqual(layer.epsilon, 1e-6)
        self.assertIsNone(layer.feature_axis)  # scalars per head, density
        self.assertEqual(tuple(layer.mean_offset.shape), (2, 4))
        self.assertEqual(tuple(layer.scale.shape), (2, 4))
        self.assertAllClose(to_numpy(layer.mean_offset), np.zeros((2, 4)))
        self.assertAllClose(
            to_numpy(layer.scale), np.full((2, 4), math.log(0.5))
        )
        per_feature = _jepa(num_heads=2, num_densities=4, feature_axis=-1)
        per_feature.build((None, 6, 8))
        self.assertEqual(tuple(per_feature.scale.shape), (2, 4, 8))
        self.assertEqual(per_feature.count_params(), 2 * 2 * 4 * 8)

    # ------------------------------------------------------------ oracles
    @pytest.mark.filterwarnings("ignore:.*spans only")
    def test_matches_numpy_transcription(self):
        rng = np.random.default_rng(1)
        # (shape, axis, heads, densities, feature_axis, mask, normalize);
        # mask: None, "axis" ([batch, axis length]) or "full".
        cases = [
            ((3, 12, 5), 1, 1, 1, None, None, False),
            ((3, 12, 5), 1, 3, 4, None, "axis", False),
            ((3, 12, 5), 1, 2, 2, -1, "axis", False),
            ((2, 4, 6, 3), 2, 2, 2, 1, "axis", False),
            ((2, 5, 8), -1, 4, 3, 1, "full", True),
            ((2, 5, 8), -1, 2, 1, None, None, True),
        ]
        for i, (shape, axis, heads, k, fa, mask_kind, norm) in enumerate(cases):
            msg = f"case {i}: {shape} axis={axis} H={heads} K={k} fa={fa}"
            x = _x(shape, seed=i, scale=2.0, loc=0.5)
            layer = _jepa(
                num_heads=heads,
                num_densities=k,
                axis=axis,
                feature_axis=fa,
                normalize=norm,
            )
            layer.build(x.shape)
            _set_params(layer, seed=10 + i)
            a = axis % len(shape)
            mask = full = None
            if mask_kind == "axis":
                mask = rng.random((shape[0], shape[a])) > 0.3
                mask[0, : shape[a] // heads] = False  # a fully padded head
                bshape = [1] * len(shape)
                bshape[0], bshape[a] = mask.shape
                full = mask.reshape(bshape)
            elif mask_kind == "full":
                mask = full = rng.random(shape) > 0.3
            y, g = compiled_call(
                layer, x, padding_mask=mask, return_attention_scores=True
            )
            y_ref, g_ref = ref.jepa_daam(
                x,
                to_numpy(layer.mean_offset),
                to_numpy(layer.scale),
                heads,
                axis=a,
                feature_axis=fa,
                padding_mask=full,
                normalize=norm,
            )
            self.assertAllClose(
                to_numpy(g), g_ref, atol=1e-5, rtol=1e-5, msg=msg
            )
            self.assertAllClose(
                to_numpy(y), y_ref, atol=1e-5, rtol=1e-5, msg=msg
            )
            if norm:  # weights sum to one over the real elements of a head
                sums = np.moveaxis(to_numpy(g), a, -1)
                sums = sums.reshape(sums.shape[:-1] + (heads, -1)).sum(-1)
                self.assertTrue(
                    np.all(np.isclose(sums, 1, atol=1e-5) | (sums == 0)), msg
                )

    def test_matches_the_authors_module(self):
        import torch  # a test requirement on every backend

        for shape, axis, k in (((3, 16, 5), 1, 3), ((2, 4, 10), 2, 1)):
            theirs = authors.gaussian_adaptive_attention(k, axis)
            rng = np.random.default_rng(k)
            with torch.no_grad():
                theirs.mean_offsets.copy_(torch.tensor(rng.normal(0, 0.5, k)))
                theirs.log_sigma.copy_(torch.tensor(rng.normal(-0.3, 0.6, k)))
            x = _x(shape, seed=axis, scale=3.0, loc=-1.0)
            out, gate = theirs(torch.tensor(x))
            layer = _jepa(num_heads=1, num_densities=k, axis=axis)
            layer.build(x.shape)
            layer.mean_offset.assign(theirs.mean_offsets.detach().numpy()[None])
            layer.scale.assign(theirs.log_sigma.detach().numpy()[None])
            y, g = compiled_call(layer, x, return_attention_scores=True)
            self.assertAllClose(
                to_numpy(g), gate.detach().numpy(), atol=1e-5, rtol=1e-5
            )
            self.assertAllClose(
                to_numpy(y), out.detach().numpy(), atol=1e-5, rtol=1e-5
            )

    def test_constant_input_gives_the_clamped_gate(self):
        # var = 0 is clamped to epsilon: std = 1e-3, and with m = 0 every
        # z is 0, so G = mean_k 1 / (sigma_k sqrt(2 pi)).
        x = np.full((2, 6, 3), 7.0, "float32")
        layer = _jepa(num_heads=2, num_densities=2)
        _, g = compiled_call(layer, x, return_attention_scores=True)
        expected = 1.0 / (SIGMA_INIT * math.sqrt(2 * math.pi))
        self.assertAllClose(to_numpy(g), np.full(x.shape, expected), atol=1e-6)
        # With an offset, z_k = -m_k / (std * sigma_k + 1e-8): std is the
        # clamp's sqrt(epsilon), not sqrt(var + epsilon) of a zero var.
        layer = _jepa(num_densities=1, epsilon=1e-2)
        layer.build(x.shape)
        layer.mean_offset.assign(np.full((1, 1), 0.05, "float32"))
        _, g = compiled_call(layer, x, return_attention_scores=True)
        z = -0.05 / (0.1 * SIGMA_INIT + 1e-8)
        expected = math.exp(-0.5 * z * z) / (
            SIGMA_INIT * math.sqrt(2 * math.pi)
        )
        self.assertAllClose(to_numpy(g), np.full(x.shape, expected), rtol=1e-5)

    def test_epsilon_is_a_floor_not_a_shift(self):
        # A variance of about 1 is above both floors: the outputs agree
        # exactly (an added epsilon of 1e-2 would change them by ~1%).
        x = _x((2, 16, 4), seed=3)
        outs = []
        for epsilon in (1e-6, 1e-2):
            layer = _jepa(num_densities=2, epsilon=epsilon)
            layer.build(x.shape)
            _set_params(layer, seed=4)
            outs.append(to_numpy(compiled_call(layer, x)))
        self.assertAllClose(outs[0], outs[1], atol=0, rtol=0)

    # ------------------------------------------------------------ masks
    @pytest.mark.filterwarnings("ignore:.*spans only")
    def test_masked_statistics_and_zeroed_padding(self):
        x = _x((2, 8, 3), seed=11)
        mask = np.ones((2, 8), bool)
        mask[0, 5:] = False
        layer = _jepa(num_heads=2, num_densities=3)
        layer.build(x.shape)
        _set_params(layer, seed=12)
        y = to_numpy(compiled_call(layer, x, padding_mask=mask))
        self.assertAllClose(y[0, 5:], np.zeros((3, 3)))
        noisy = x.copy()
        noisy[0, 5:] = np.inf  # padded values never leak in
        self.assertAllClose(
            to_numpy(compiled_call(layer, noisy, padding_mask=mask)), y
        )
        # Head 2 of sample 0 sees element 4 alone: the same as that
        # element as one unmasked head of length 1 (var clamped).
        alone = _jepa(num_heads=1, num_densities=3)
        alone.build((1, 1, 3))
        alone.mean_offset.assign(to_numpy(layer.mean_offset)[1:2])
        alone.scale.assign(to_numpy(layer.scale)[1:2])
        self.assertAllClose(
            y[0, 4:5], to_numpy(compiled_call(alone, x[0:1, 4:5]))[0], atol=1e-6
        )
        # A fully padded sample gives zeros, never NaN.
        empty = np.zeros((2, 8), bool)
        y, g = compiled_call(
            layer, x, padding_mask=empty, return_attention_scores=True
        )
        self.assertAllClose(to_numpy(y), np.zeros_like(x))
        self.assertTrue(np.all(np.isfinite(to_numpy(g))))

    def test_keras_mask_from_embedding(self):
        tokens = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
        inputs = keras.Input((6,), dtype="int32")
        h = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
        daam = _jepa(num_densities=2)
        model = keras.Model(inputs, daam(h))
        y = to_numpy(compiled_call(model, tokens))
        self.assertAllClose(y[0, 3:], np.zeros((3, 4)))
        emb = to_numpy(compiled_call(model.layers[1], tokens))
        explicit = to_numpy(compiled_call(daam, emb, padding_mask=tokens != 0))
        self.assertAllClose(y, explicit, atol=1e-6)

    # ------------------------------------------------------ numerics
    def test_mixed_precision_maths_in_float32(self):
        rng = np.random.default_rng(15)
        cases = {
            "unit": 2.0 * rng.normal(size=(2, 8, 4)),
            # x**2 ~ 1e8 overflows float16: only float32 maths stay finite
            "magnitude_1e4": 1e4 * rng.normal(size=(2, 8, 4)),
            "variance_1e-8": 3.0 + 1e-4 * rng.normal(size=(2, 8, 4)),
            "zeros": np.zeros((2, 8, 4)),
        }
        # Statistics are per sample: the cases share one batch (one call).
        x = np.concatenate(list(cases.values())).astype("float32")
        reference = _jepa(num_heads=2, num_densities=3)
        reference.build(x.shape)
        _set_params(reference, seed=16)
        for policy in ("mixed_float16", "mixed_bfloat16"):
            layer = _jepa(num_heads=2, num_densities=3, dtype=policy)
            layer.build(x.shape)
            layer.set_weights(reference.get_weights())
            self.assertEqual(layer.mean_offset.dtype, "float32")
            y, g = compiled_call(layer, x, return_attention_scores=True)
            for t in (y, g):
                self.assertEqual(
                    keras.backend.standardize_dtype(t.dtype),
                    layer.compute_dtype,
                    policy,
                )
            g = to_numpy(ops.cast(g, "float32"))
            # The same gate as float32 maths on the rounded input.
            rounded = to_numpy(
                ops.cast(ops.cast(x, layer.compute_dtype), "float32")
            )
            _, g32 = compiled_call(
                reference, rounded, return_attention_scores=True
            )
            g32 = to_numpy(g32)
            for i, name in enumerate(cases):
                msg = f"{policy} {name}"
                rows = slice(2 * i, 2 * i + 2)
                self.assertTrue(np.all(np.isfinite(g[rows])), msg)
                self.assertAllClose(
                    g[rows], g32[rows], atol=1e-2, rtol=1e-2, msg=msg
                )

    def test_nan_is_not_hidden(self):
        x = _x((2, 8, 3), seed=16)
        x[0, 1, 2] = np.nan
        y = to_numpy(compiled_call(_jepa(num_heads=2, num_densities=2), x))
        self.assertTrue(np.isnan(y[0, :4, 2]).all())  # the head with the NaN
        self.assertTrue(np.isfinite(y[0, 4:]).all())
        self.assertTrue(np.isfinite(y[1]).all())

    # ------------------------------------------------- axis of unknown length
    def test_one_head_over_an_axis_of_unknown_length(self):
        inputs = keras.Input((None, 4))
        layer = _jepa(num_densities=2)
        model = keras.Model(inputs, layer(inputs))
        _set_params(layer, seed=5)
        for length in (5, 9):
            x = _x((2, length, 4), seed=length)
            y_ref, _ = ref.jepa_daam(
                x, to_numpy(layer.mean_offset), to_numpy(layer.scale), 1
            )
            self.assertAllClose(
                model.predict(x, verbose=0), y_ref, atol=1e-5, rtol=1e-5
            )
        with self.assertRaisesRegex(ValueError, r"several heads.*num_heads=2"):
            _jepa(num_heads=2)(keras.Input((None, 4)))

    # ------------------------------------------------------ saving
    def test_config_and_keras_round_trip(self):
        layer = _jepa(num_heads=2, num_densities=3, feature_axis=-1)
        config = layer.get_config()
        self.assertEqual(config["formulation"], "jepa")
        self.assertEqual(config["epsilon"], 1e-6)
        self.assertFalse(config["normalize"])
        clone = DensityAdaptiveAttention.from_config(config)
        self.assertEqual(clone.get_config(), config)

        x = _x((2, 8, 6), seed=17)
        inputs = keras.Input((8, 6))
        h = layer(inputs)
        h = _jepa(num_heads=2, num_densities=2, normalize=True, axis=2)(h)
        model = keras.Model(inputs, h)
        for sub in model.layers[1:]:
            _set_params(sub, seed=18)
        path = os.path.join(self.get_temp_dir(), "jepa.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(
            to_numpy(compiled_call(loaded, x)),
            to_numpy(compiled_call(model, x)),
        )
        self.assertEqual(loaded.layers[2].get_config()["normalize"], True)
