"""`DensityAdaptiveGate`: the authors' gated residual block (`GAttnGateG`).

Oracles: `numpy_reference.jepa_daam` on the projection (`y = x * (1 + alpha
* G)`) and the authors' PyTorch block transcribed in `authors_jepa.py`.
"""

import os

import keras
import numpy as np
from keras import ops
from keras.src import testing

from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityAdaptiveGate
from tests.backend_utils import to_numpy
from tests.layers import authors_jepa as authors
from tests.layers import numpy_reference as ref
from tests.layers.compiled import compiled_call
from tests.layers.other_backend import outputs_and_grads
from tests.layers.other_backend import outputs_and_grads_on_other_backend


def _x(shape, seed=0, scale=1.0, loc=0.0):
    rng = np.random.default_rng(seed)
    return (loc + scale * rng.normal(size=shape)).astype("float32")


def _set_params(layer, seed=0, alpha=0.7):
    """Random gate parameters (and alpha) on a built gate."""
    rng = np.random.default_rng(seed)
    inner = layer.gate_attention
    shape = inner.mean_offset.shape
    inner.mean_offset.assign(rng.normal(0, 0.5, shape).astype("float32"))
    inner.scale.assign(rng.normal(-0.3, 0.6, shape).astype("float32"))
    layer.projection.bias.assign(np.array([0.3], "float32"))
    layer.alpha.assign(np.float32(alpha))


def _reference(layer, x, mask=None):
    """`x * (1 + alpha * G)`, G the NumPy jepa gate of `x @ W + b`."""
    kernel = to_numpy(layer.projection.kernel).astype(np.float64)
    bias = to_numpy(layer.projection.bias).astype(np.float64)
    a = x.astype(np.float64) @ kernel + bias
    full = None if mask is None else mask[:, :, None]
    _, gate = ref.jepa_daam(
        a,
        to_numpy(layer.gate_attention.mean_offset),
        to_numpy(layer.gate_attention.scale),
        1,
        axis=1,
        padding_mask=full,
    )
    y = x * (1.0 + float(to_numpy(layer.alpha)) * gate)
    if mask is not None:
        y = np.where(mask[:, :, None], y, 0.0)
    return y, gate


class DensityAdaptiveGateTest(testing.TestCase):
    # ------------------------------------------------------------ basics
    def test_layer_basics(self):
        self.run_layer_test(
            DensityAdaptiveGate,
            init_kwargs={"num_densities": 3},
            input_shape=(2, 7, 5),
            expected_output_shape=(2, 7, 5),
            # kernel, bias, mean_offset, scale, alpha
            expected_num_trainable_weights=5,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
            run_mixed_precision_check=True,
            # fit() under jit: the heads tests train these layers
            # (tests/heads/test_jepa_heads.py), the gradients are checked
            # across backends in test_density_gate.py.
            run_training_check=False,
        )

    def test_weights_and_parameter_count(self):
        layer = DensityAdaptiveGate(num_densities=4)
        layer.build((None, 10, 6))
        # Dense(6 -> 1) + 4 offsets + 4 scales + alpha
        self.assertEqual(layer.count_params(), 7 + 4 + 4 + 1)
        self.assertEqual(
            sorted(w.path for w in layer.weights),
            sorted(
                [
                    "density_adaptive_gate/alpha",
                    "density_adaptive_gate/projection/kernel",
                    "density_adaptive_gate/projection/bias",
                    "density_adaptive_gate/gate_attention/mean_offset",
                    "density_adaptive_gate/gate_attention/scale",
                ]
            ),
        )
        inner = layer.gate_attention
        self.assertIsInstance(inner, DensityAdaptiveAttention)
        self.assertEqual(inner.formulation, "jepa")
        self.assertEqual((inner.num_heads, inner.axis), (1, 1))
        self.assertEqual(tuple(inner.scale.shape), (1, 4))
        self.assertAllClose(to_numpy(layer.alpha), 0.05)

    def test_starts_near_the_identity(self):
        x = _x((3, 20, 6), seed=1, scale=2.0)
        layer = DensityAdaptiveGate(num_densities=4)
        y, gate = compiled_call(layer, x, return_attention_scores=True)
        y, gate = to_numpy(y), to_numpy(gate)
        self.assertEqual(gate.shape, (3, 20, 1))
        self.assertAllClose(y, x * (1.0 + 0.05 * gate), atol=1e-6, rtol=1e-6)
        # G <= 1 / (sigma_min sqrt(2 pi)) ~ 0.98 at initialisation
        self.assertTrue(np.all((gate > 0) & (gate < 1.0)))
        self.assertTrue(np.all(np.abs(y - x) <= 0.05 * np.abs(x) + 1e-6))
        self.assertLess(np.abs(y - x).max(), 0.05 * np.abs(x).max())

    # ------------------------------------------------------------ oracles
    def test_matches_numpy_reference(self):
        x = _x((3, 16, 5), seed=2, scale=2.0, loc=0.5)
        mask = np.random.default_rng(3).random((3, 16)) > 0.3
        layer = DensityAdaptiveGate(num_densities=3)
        layer.build(x.shape)
        _set_params(layer, seed=4)
        for m in (None, mask):
            y, gate = compiled_call(
                layer, x, padding_mask=m, return_attention_scores=True
            )
            y_ref, gate_ref = _reference(layer, x, m)
            self.assertAllClose(to_numpy(gate), gate_ref, atol=1e-5, rtol=1e-5)
            self.assertAllClose(to_numpy(y), y_ref, atol=1e-5, rtol=1e-5)

    def test_matches_the_authors_block(self):
        import torch  # a test requirement on every backend

        channels, k = 5, 4
        theirs = authors.gated_residual_block(channels, k)
        rng = np.random.default_rng(5)
        with torch.no_grad():
            theirs.gaa.mean_offsets.copy_(torch.tensor(rng.normal(0, 0.5, k)))
            theirs.gaa.log_sigma.copy_(torch.tensor(rng.normal(-0.3, 0.6, k)))
            theirs.alpha.fill_(0.4)
        x = _x((2, 24, channels), seed=6, scale=1.5)
        # theirs is channels first: [batch, channels, time]
        out, gate = theirs(torch.tensor(x).transpose(1, 2))
        layer = DensityAdaptiveGate(num_densities=k)
        layer.build(x.shape)
        conv = theirs.to_attn
        layer.projection.kernel.assign(
            conv.weight.detach().numpy()[0, :, :1]  # [C, 1]
        )
        layer.projection.bias.assign(conv.bias.detach().numpy())
        layer.gate_attention.mean_offset.assign(
            theirs.gaa.mean_offsets.detach().numpy()[None]
        )
        layer.gate_attention.scale.assign(
            theirs.gaa.log_sigma.detach().numpy()[None]
        )
        layer.alpha.assign(np.float32(0.4))
        y, g = compiled_call(layer, x, return_attention_scores=True)
        self.assertAllClose(
            to_numpy(y),
            out.detach().numpy().transpose(0, 2, 1),
            atol=1e-5,
            rtol=1e-5,
        )
        self.assertAllClose(
            to_numpy(g),
            gate.detach().numpy().transpose(0, 2, 1),
            atol=1e-5,
            rtol=1e-5,
        )

    # ------------------------------------------------------------ masks
    def test_padding_is_excluded_and_zeroed(self):
        x = _x((2, 10, 4), seed=7)
        mask = np.ones((2, 10), bool)
        mask[0, 6:] = False
        layer = DensityAdaptiveGate(num_densities=2)
        layer.build(x.shape)
        _set_params(layer, seed=8)
        y, gate = compiled_call(
            layer, x, padding_mask=mask, return_attention_scores=True
        )
        y, gate = to_numpy(y), to_numpy(gate)
        self.assertAllClose(y[0, 6:], np.zeros((4, 4)))
        self.assertAllClose(gate[0, 6:], np.zeros((4, 1)))
        # Padded values, even Inf, change nothing; the real steps of sample
        # 0 are those steps alone.
        noisy = x.copy()
        noisy[0, 6:] = np.inf
        self.assertAllClose(
            to_numpy(compiled_call(layer, noisy, padding_mask=mask)), y
        )
        self.assertAllClose(
            y[0, :6], to_numpy(compiled_call(layer, x[:1, :6]))[0], atol=1e-6
        )
        # [batch, time, 1] masks are accepted too; no real step: zeros.
        self.assertAllClose(
            to_numpy(compiled_call(layer, x, padding_mask=mask[:, :, None])), y
        )
        empty = to_numpy(
            compiled_call(layer, x, padding_mask=np.zeros((2, 10), bool))
        )
        self.assertAllClose(empty, np.zeros_like(x))
        with self.assertRaisesRegex(ValueError, r"does not fit inputs"):
            layer(x, padding_mask=np.ones((2, 9), bool))

    def test_keras_mask_propagation(self):
        tokens = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
        inputs = keras.Input((6,), dtype="int32")
        h = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
        gate = DensityAdaptiveGate(num_densities=2)
        g = gate(h)
        # The mask is passed on: the pooling after it ignores padding.
        pooled = keras.layers.GlobalAveragePooling1D()(g)
        model = keras.Model(inputs, [g, pooled])
        y, p = (to_numpy(t) for t in compiled_call(model, tokens))
        emb = to_numpy(compiled_call(model.layers[1], tokens))
        explicit = to_numpy(compiled_call(gate, emb, padding_mask=tokens != 0))
        self.assertAllClose(y, explicit, atol=1e-6)
        self.assertAllClose(y[0, 3:], np.zeros((3, 4)))
        self.assertAllClose(p[0], y[0, :3].mean(axis=0), atol=1e-6)

    # ------------------------------------------------------ shapes
    def test_shapes_and_unknown_time(self):
        layer = DensityAdaptiveGate(num_densities=2)
        self.assertEqual(layer.compute_output_shape((None, 7, 3)), (None, 7, 3))
        inputs = keras.Input((None, 3))
        y, gate = layer(inputs, return_attention_scores=True)
        self.assertEqual(tuple(y.shape), (None, None, 3))
        self.assertEqual(tuple(gate.shape), (None, None, 1))
        model = keras.Model(inputs, [y, gate])
        for length in (5, 11):
            x = _x((2, length, 3), seed=length)
            out, g = model.predict(x, verbose=0)
            y_ref, g_ref = _reference(layer, x)
            self.assertAllClose(out, y_ref, atol=1e-5, rtol=1e-5)
            self.assertAllClose(g, g_ref, atol=1e-5, rtol=1e-5)

    def test_bad_arguments_and_inputs(self):
        with self.assertRaisesRegex(ValueError, "num_densities"):
            DensityAdaptiveGate(num_densities=0)
        with self.assertRaisesRegex(ValueError, "alpha_initializer"):
            DensityAdaptiveGate(alpha_initializer="no_such_initializer")
        with self.assertRaisesRegex(ValueError, r"\[batch, time.*\(2, 5\)"):
            DensityAdaptiveGate()(np.zeros((2, 5), "float32"))
        with self.assertRaisesRegex(ValueError, r"floating-point.*int32"):
            DensityAdaptiveGate()(np.zeros((2, 5, 3), "int32"))

    # ------------------------------------------------------ numerics
    def test_mixed_precision(self):
        x = _x((2, 12, 4), seed=9, scale=3.0)
        reference = DensityAdaptiveGate(num_densities=3)
        reference.build(x.shape)
        _set_params(reference, seed=10)
        for policy in ("mixed_float16", "mixed_bfloat16"):
            layer = DensityAdaptiveGate(num_densities=3, dtype=policy)
            layer.build(x.shape)
            layer.set_weights(reference.get_weights())
            # Weights float32; the gate's maths in float32 (its own policy).
            self.assertTrue(all(w.dtype == "float32" for w in layer.weights))
            self.assertEqual(layer.gate_attention.compute_dtype, "float32")
            for scale in (1.0, 1e3):  # x**2 ~ 1e8 overflows float16
                y, g = compiled_call(
                    layer, scale * x, return_attention_scores=True
                )
                for t in (y, g):
                    self.assertEqual(
                        keras.backend.standardize_dtype(t.dtype),
                        layer.compute_dtype,
                    )
                    self.assertTrue(
                        np.all(np.isfinite(to_numpy(ops.cast(t, "float32"))))
                    )
                _, g32 = compiled_call(
                    reference, scale * x, return_attention_scores=True
                )
                # Differences are the projection's half-precision round-off.
                self.assertAllClose(
                    to_numpy(ops.cast(g, "float32")),
                    to_numpy(g32),
                    atol=5e-2,
                    rtol=5e-2,
                    msg=f"{policy} x{scale}",
                )

    # ------------------------------------------------------ saving
    def test_config_round_trip(self):
        layer = DensityAdaptiveGate(
            num_densities=3,
            alpha_initializer=0.2,
            scale_initializer=keras.initializers.Constant(-1.0),
            name="gate",
        )
        config = layer.get_config()
        self.assertEqual(config["num_densities"], 3)
        clone = DensityAdaptiveGate.from_config(config)
        self.assertEqual(clone.get_config(), config)
        clone.build((None, 6, 4))
        self.assertAllClose(to_numpy(clone.alpha), 0.2)
        self.assertAllClose(
            to_numpy(clone.gate_attention.scale), np.full((1, 3), -1.0)
        )
        # Any initializer identifier is accepted for alpha.
        ones = DensityAdaptiveGate(alpha_initializer="ones")
        ones.build((None, 6, 4))
        self.assertAllClose(to_numpy(ones.alpha), 1.0)

    def test_keras_round_trip(self):
        x = _x((2, 9, 5), seed=11)
        mask = np.ones((2, 9), bool)
        mask[1, 7:] = False
        features = keras.Input((9, 5), name="features")
        padding = keras.Input((9,), dtype="bool", name="padding_mask")
        gate = DensityAdaptiveGate(num_densities=2)
        y = gate(features, padding_mask=padding)
        model = keras.Model([features, padding], y)
        _set_params(gate, seed=12)
        path = os.path.join(self.get_temp_dir(), "gate.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.layers[-1], DensityAdaptiveGate)
        self.assertAllClose(
            to_numpy(compiled_call(loaded, [x, mask])),
            to_numpy(compiled_call(model, [x, mask])),
        )

    def test_saved_under_one_backend_loads_under_another(self):
        """Same weights -> same outputs and gradients on the next backend
        (tensorflow -> jax -> torch -> tensorflow), for the gate and the
        `"jepa"` formulation of `DensityAdaptiveAttention` (several heads
        with per-feature parameters; normalised along another axis) in one
        model."""
        x = _x((3, 12, 8), seed=19, scale=2.0)
        cot = _x((3, 12, 8), seed=20)
        inputs = keras.Input((12, 8))
        jepa = [
            DensityAdaptiveAttention(
                num_heads=4,
                num_densities=3,
                formulation="jepa",
                feature_axis=-1,
                name="heads_per_feature",
            ),
            DensityAdaptiveAttention(
                num_densities=2,
                axis=2,
                formulation="jepa",
                normalize=True,
                name="normalized",
            ),
        ]
        gate = DensityAdaptiveGate(num_densities=3, name="gate")
        h = inputs
        for i, layer in enumerate(jepa):
            h = layer(h)
            rng = np.random.default_rng(21 + i)
            shape = layer.mean_offset.shape
            layer.mean_offset.assign(rng.normal(0, 0.5, shape))
            layer.scale.assign(rng.normal(-0.3, 0.6, shape))
        h = gate(h)
        _set_params(gate, seed=24)
        model = keras.Model(inputs, h)
        out, dx, dw = outputs_and_grads(model, x, cot)
        paths = [w.path for w in model.trainable_weights]
        self.assertEqual(len(paths), 2 * 2 + 5)
        grads = dict(zip(paths, dw))
        for path, g in grads.items():
            self.assertTrue(np.all(np.isfinite(g)), path)
            if path == "gate/projection/bias":
                # The jepa gate standardises the projection along time, so
                # its bias cancels: the gradient is float32 rounding only
                # (exactly 0 under XLA on one machine), far below the
                # kernel's.
                kernel = np.abs(grads["gate/projection/kernel"]).max()
                self.assertLess(np.abs(g).max(), 1e-4 * kernel, path)
            else:  # every other parameter learns
                self.assertGreater(np.abs(g).max(), 0.0, path)
        other, their_out, their_dx, their_dw = (
            outputs_and_grads_on_other_backend(
                model, x, cot, self.get_temp_dir()
            )
        )
        self.assertAllClose(their_out, out, atol=1e-5, rtol=1e-5, msg=other)
        self.assertAllClose(their_dx, dx, atol=1e-5, rtol=1e-4, msg=other)
        self.assertEqual(sorted(their_dw), sorted(paths))
        for path, g in zip(paths, dw):
            self.assertAllClose(
                their_dw[path], g, atol=1e-4, rtol=1e-4, msg=path
            )
