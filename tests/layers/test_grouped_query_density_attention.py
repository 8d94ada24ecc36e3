import math
import os

import keras
import numpy as np
import pytest
from keras import ops
from keras.src import testing

from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import GroupedQueryDensityAttention

DATA = os.path.join(os.path.dirname(__file__), "data")

SMALL = dict(
    hidden_dim=16,
    num_query_heads=4,
    num_key_value_heads=2,
    density_heads=2,
)


def _np(x):
    return ops.convert_to_numpy(x)


def _randomize(layer, seed=0):
    """Give every weight (DAAM offsets/scales, norm, biases) random values."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        value = rng.normal(scale=0.3, size=w.shape)
        if w.path.endswith(("density_attention/scale", "output_norm/gamma")):
            value = 1.5 + np.abs(value)  # keep scales positive
        w.assign(value.astype("float32"))


def _reference(layer, x, mask=None):
    """NumPy: paper DAAM, Dense, standard GQA with LayerNorm, projection."""
    w = {
        v.path.split("/", 1)[1]: _np(v).astype("float64") for v in layer.weights
    }
    x = x.astype("float64")
    b, length, d = x.shape
    heads = layer.density_heads
    real = np.ones((b, length), bool) if mask is None else mask
    m = real.reshape(b, heads, length // heads, 1).astype("float64")
    xs = x.reshape(b, heads, length // heads, d) * m
    count = np.maximum(m.sum(axis=2, keepdims=True), 1)
    mu = xs.sum(axis=2, keepdims=True) / count
    var = (((xs - mu) * m) ** 2).sum(axis=2, keepdims=True) / count
    var = var + 1e-5 + 1e-8
    delta = w["density_attention/mean_offset"][None, :, :, :]
    xi = w["density_attention/scale"][None, :, :, :]
    z = (xs - mu - delta) / np.sqrt(var)
    gate = np.exp(-(z**2) / (2 * xi)) * m
    gated = (xs * gate).reshape(b, length, d)
    h = gated @ w["projection/kernel"] + w["projection/bias"]

    def proj(name):
        return (
            np.einsum(
                "blm,muh->bluh", h, w[f"grouped_query_attention/{name}/kernel"]
            )
            + w[f"grouped_query_attention/{name}/bias"]
        )

    q, k, v = proj("query"), proj("key"), proj("value")
    group = layer.num_query_heads // layer.num_key_value_heads
    k = np.repeat(k, group, axis=2)  # query head i uses kv head i // group
    v = np.repeat(v, group, axis=2)
    logits = np.einsum("bquh,bkuh->buqk", q, k) / math.sqrt(layer.head_dim)
    if mask is not None:
        logits = np.where(mask[:, None, None, :], logits, -np.inf)
    logits -= logits.max(-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(-1, keepdims=True)
    out = np.einsum("buqk,bkuh->bquh", probs, v)
    mean = out.mean(axis=(2, 3), keepdims=True)
    var = out.var(axis=(2, 3), keepdims=True)
    out = (out - mean) / np.sqrt(var + layer.norm_epsilon)
    out = (
        out * w["grouped_query_attention/output_norm/gamma"]
        + w["grouped_query_attention/output_norm/beta"]
    )
    y = real[:, :, None] * (
        np.einsum(
            "bquh,uhm->bqm",
            out,
            w["grouped_query_attention/attention_output/kernel"],
        )
        + w["grouped_query_attention/attention_output/bias"]
    )
    probs = probs * real[:, None, :, None]
    return y, gate.reshape(b, length, d), probs


class GroupedQueryDensityAttentionTest(testing.TestCase):
    def test_layer_basics(self):
        self.run_layer_test(
            GroupedQueryDensityAttention,
            init_kwargs=SMALL,
            input_shape=(2, 6, 8),
            expected_output_shape=(2, 6, 16),
            # DAAM 2, projection 2, q/k/v/output 8, LayerNorm 2.
            expected_num_trainable_weights=14,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
            run_training_check=True,
            run_mixed_precision_check=True,
        )

    def test_matches_numpy_reference(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        x = np.random.default_rng(1).normal(size=(3, 6, 8)).astype("float32")
        layer.build(x.shape)
        _randomize(layer)
        y, density_map, scores = layer(x, return_attention_scores=True)
        ref_y, ref_map, ref_scores = _reference(layer, x)
        self.assertAllClose(_np(density_map), ref_map, atol=1e-5, rtol=1e-4)
        self.assertAllClose(_np(scores), ref_scores, atol=1e-5, rtol=1e-4)
        self.assertAllClose(_np(y), ref_y, atol=1e-4, rtol=1e-4)

    def test_one_map_per_query_head_and_single_scaling(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        x = np.random.default_rng(2).normal(size=(2, 6, 8)).astype("float32")
        layer.build(x.shape)
        _randomize(layer, seed=3)
        _, _, scores = layer(x, return_attention_scores=True)
        scores = _np(scores)
        self.assertEqual(scores.shape, (2, 4, 6, 6))
        self.assertAllClose(scores.sum(-1), np.ones((2, 4, 6)), atol=1e-5)
        # Query heads of one group (0 and 1 share kv head 0) keep their own
        # maps; the authors summed them into one.
        self.assertGreater(np.abs(scores[:, 0] - scores[:, 1]).max(), 1e-3)
        # The authors' temperature 1/head_dim would give flatter maps than
        # the 1/sqrt(head_dim) reference checked above; guard the constant.
        self.assertAlmostEqual(
            layer.grouped_query_attention._inverse_sqrt_head_dim,
            1 / math.sqrt(layer.head_dim),
        )

    def test_without_output_norm(self):
        layer = GroupedQueryDensityAttention(use_output_norm=False, **SMALL)
        layer.build((None, 6, 8))
        self.assertEqual(len(layer.trainable_weights), 12)
        self.assertEqual(
            layer.count_params(),
            2 * 2 * 8 + (8 * 16 + 16) + 2 * (16 * 16 + 16) + 2 * (16 * 8 + 8),
        )

    def test_paper_parameter_count(self):
        # 24 x 1024 inputs, 8 DAAM heads, width 512, 8 query / 2 kv heads of
        # 64: DAAM 16,384 + Dense 524,800 + q 262,656 + k, v 65,664 each
        # + LayerNorm 1,024 + output 262,656. The authors' code (query heads
        # summed per group) had LayerNorm(128) and a 128 -> 512 output
        # projection: 197,376 fewer, 1,001,472.
        layer = GroupedQueryDensityAttention()
        layer.build((None, 24, 1024))
        self.assertEqual(layer.density_attention.count_params(), 16_384)
        self.assertIsInstance(layer.density_attention, DensityAdaptiveAttention)
        self.assertEqual(layer.count_params(), 1_198_848)
        self.assertEqual(layer.count_params() - 197_376, 1_001_472)

    def test_padded_tokens_do_not_change_real_outputs(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        rng = np.random.default_rng(4)
        x = rng.normal(size=(2, 6, 8)).astype("float32")
        layer.build(x.shape)
        _randomize(layer, seed=5)
        mask = np.ones((2, 6), bool)
        mask[0, 3:] = False  # sample 0: last density head entirely padded
        mask[1, 5] = False
        y1, _, s1 = layer(x, padding_mask=mask, return_attention_scores=True)
        x2 = x.copy()
        x2[~mask] = rng.normal(scale=50.0, size=x2[~mask].shape)
        y2, _, s2 = layer(x2, padding_mask=mask, return_attention_scores=True)
        y1, y2, s1 = _np(y1), _np(y2), _np(s1)
        self.assertAllClose(y1, y2, atol=1e-5)
        self.assertAllClose(s1, _np(s2), atol=1e-6)
        self.assertTrue(np.all(y1[~mask] == 0))
        # Real queries give padded keys no weight.
        self.assertAllClose(s1[0, :, :3, 3:], np.zeros((4, 3, 3)))
        # The Keras mask is used when no padding_mask is given.
        y3 = layer(x2, mask=mask)
        self.assertAllClose(_np(y3), y1, atol=1e-5)

    def test_masked_matches_reference(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        x = np.random.default_rng(6).normal(size=(2, 6, 8)).astype("float32")
        layer.build(x.shape)
        _randomize(layer, seed=7)
        mask = np.ones((2, 6), bool)
        mask[0, 4] = False
        mask[1, 3:] = False
        y, density_map, scores = layer(
            x, padding_mask=mask, return_attention_scores=True
        )
        ref_y, ref_map, ref_scores = _reference(layer, x, mask=mask)
        self.assertAllClose(_np(density_map), ref_map, atol=1e-5, rtol=1e-4)
        self.assertAllClose(_np(scores), ref_scores, atol=1e-5, rtol=1e-4)
        self.assertAllClose(_np(y), ref_y, atol=1e-4, rtol=1e-4)

    def test_scores_do_not_change_the_outputs(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        x = np.random.default_rng(10).normal(size=(2, 6, 8)).astype("float32")
        layer.build(x.shape)
        _randomize(layer, seed=11)
        mask = np.ones((2, 6), bool)
        mask[1, 4:] = False
        for padding_mask in (None, mask):
            y = layer(x, padding_mask=padding_mask)
            y2, _, _ = layer(
                x, padding_mask=padding_mask, return_attention_scores=True
            )
            self.assertAllClose(_np(y), _np(y2), atol=1e-6)

    def test_mixed_precision_logits_and_softmax_in_float32(self):
        x = np.random.default_rng(12).normal(size=(2, 6, 8)).astype("float32")
        results = {}
        for policy in ("mixed_float16", "mixed_bfloat16"):
            layer = GroupedQueryDensityAttention(dtype=policy, **SMALL)
            layer.build(x.shape)
            self.assertEqual(layer.projection.kernel.dtype, "float32")
            _randomize(layer, seed=13)
            gqa = layer.grouped_query_attention
            # Logits of ~1.2e5: beyond float16's range (65504), while the
            # queries and keys themselves (~570) fit in it. Logits formed
            # in float16 overflow and the softmax gives NaN.
            for dense in (gqa._query_dense, gqa._key_dense):
                dense.kernel.assign(dense.kernel * 250.0)
            y, _, scores = layer(x, return_attention_scores=True)
            self.assertEqual(
                keras.backend.standardize_dtype(scores.dtype),
                layer.compute_dtype,
            )
            results[policy] = (_np(y), _np(scores).astype("float32"))
        h = layer.projection(layer.density_attention(x))
        q = _np(gqa._query_dense(h)).astype("float32")
        k = _np(gqa._key_dense(h)).astype("float32")
        # Query heads 0 and 2 read key/value heads 0 and 1; head_dim 4.
        logits = np.einsum("bqkh,bskh->bkqs", q[:, :, ::2], k) / 2.0
        self.assertLess(np.abs(q).max(), 6e4)
        self.assertGreater(np.abs(logits).max(), 1e5)
        for policy, (y, scores) in results.items():
            self.assertTrue(np.all(np.isfinite(y)), policy)
            self.assertTrue(np.all(np.isfinite(scores)), policy)
            self.assertAllClose(
                scores.sum(-1), np.ones((2, 4, 6)), atol=1e-2, msg=policy
            )

    def test_symbolic_outputs(self):
        layer = GroupedQueryDensityAttention(**SMALL)
        inputs = keras.Input((6, 8))
        outputs = layer(inputs, return_attention_scores=True)
        self.assertEqual(
            [tuple(o.shape) for o in outputs],
            [(None, 6, 16), (None, 6, 8), (None, 4, 6, 6)],
        )

    def test_keras_round_trip(self):
        inputs = keras.Input((6, 8))
        mask = keras.Input((6,), dtype="bool")
        outputs = GroupedQueryDensityAttention(**SMALL)(
            inputs, padding_mask=mask, return_attention_scores=True
        )
        model = keras.Model([inputs, mask], outputs)
        _randomize(model.layers[-1], seed=8)
        x = np.random.default_rng(9).normal(size=(2, 6, 8)).astype("float32")
        m = np.ones((2, 6), bool)
        m[1, 4:] = False
        path = os.path.join(self.get_temp_dir(), "gqdaam.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        for a, b in zip(
            model.predict([x, m], verbose=0), loaded.predict([x, m], verbose=0)
        ):
            np.testing.assert_array_equal(a, b)

    def test_config_round_trip(self):
        layer = GroupedQueryDensityAttention(
            head_dim=8, formulation="package", num_densities=3, **SMALL
        )
        clone = GroupedQueryDensityAttention.from_config(layer.get_config())
        self.assertEqual(clone.get_config(), layer.get_config())

    def test_invalid_arguments(self):
        with pytest.raises(
            ValueError, match="divisible by `num_key_value_heads`"
        ):
            GroupedQueryDensityAttention(
                num_query_heads=8, num_key_value_heads=3
            )
        with pytest.raises(ValueError, match="hidden_dim"):
            GroupedQueryDensityAttention(hidden_dim=10, num_query_heads=4)
        with pytest.raises(ValueError, match="formulation"):
            GroupedQueryDensityAttention(formulation="gauss")
        with pytest.raises(ValueError, match="num_query_heads"):
            GroupedQueryDensityAttention(num_query_heads=0)
        with pytest.raises(ValueError, match="not divisible"):
            GroupedQueryDensityAttention(density_heads=4)(np.zeros((1, 6, 8)))
        with pytest.raises(ValueError, match="layers, features"):
            GroupedQueryDensityAttention()(np.zeros((1, 6, 2, 8)))


class CompatibilityTest(testing.TestCase):
    """The layer against files written by its first implementation.

    `data/gqdaam_v1.*` were written by the implementation that subclassed
    `keras.layers.GroupQueryAttention` (see `data/make_gqdaam_fixture.py`):
    its `.keras` file must load unchanged and give the same outputs.
    """

    def setUp(self):
        super().setUp()
        self.arrays = dict(np.load(os.path.join(DATA, "gqdaam_v1.npz")))
        model = keras.saving.load_model(os.path.join(DATA, "gqdaam_v1.keras"))
        self.layer = model.get_layer("gqdaam")

    def test_old_file_loads_with_every_variable(self):
        layer = self.layer
        self.assertEqual(len(layer.weights), 14)
        # The loaded values are the saved ones, not fresh initial values.
        fresh = GroupedQueryDensityAttention.from_config(layer.get_config())
        fresh.build((None, 6, 8))
        self.assertEqual(
            [w.path for w in fresh.weights], [w.path for w in layer.weights]
        )
        for a, b in zip(fresh.weights, layer.weights):
            self.assertFalse(np.allclose(_np(a), _np(b)), b.path)

    def test_same_outputs_as_first_implementation(self):
        a, layer = self.arrays, self.layer
        x, mask = a["x"], a["mask"]
        # float32, on every backend, against outputs written under JAX. The
        # first implementation itself, run on torch, differs from those by
        # up to 1.2e-6 on outputs of magnitude ~3 (float32 rounding in
        # another kernel order): hence rtol 1e-6 on top of atol 1e-6.
        tol = dict(atol=1e-6, rtol=1e-6)
        self.assertAllClose(_np(layer(x)), a["y"], **tol)
        y, density_map, scores = layer(x, return_attention_scores=True)
        self.assertAllClose(_np(y), a["y_scores"], **tol)
        self.assertAllClose(_np(density_map), a["density_map"], **tol)
        self.assertAllClose(_np(scores), a["scores"], **tol)
        self.assertAllClose(
            _np(layer(x, padding_mask=mask)), a["y_masked"], **tol
        )
        y, density_map, scores = layer(
            x, padding_mask=mask, return_attention_scores=True
        )
        self.assertAllClose(_np(y), a["y_masked_scores"], **tol)
        self.assertAllClose(_np(density_map), a["density_map_masked"], **tol)
        self.assertAllClose(_np(scores), a["scores_masked"], **tol)

    def test_same_dropout_draws_as_first_implementation(self):
        a, backend = self.arrays, keras.backend.backend()
        config = dict(self.layer.get_config(), dropout=0.25, seed=3)
        layer = GroupedQueryDensityAttention.from_config(config)
        layer.build(a["x"].shape)
        layer.set_weights(self.layer.get_weights())
        y, _, scores = layer(
            a["x"],
            padding_mask=a["mask"],
            return_attention_scores=True,
            training=True,
        )
        expected = a[f"dropout_y_{backend}"]
        # Dropout really acted: training differs from inference.
        self.assertGreater(np.abs(expected - a["y_masked"]).max(), 0.1)
        # float32 rounding of another CPU's kernels (one element of 288 was
        # 1.2e-6 off on an AVX2-only machine); a different draw is >= 0.1.
        self.assertAllClose(_np(y), expected, atol=1e-5, rtol=1e-5)
        # Scores are returned before dropout, as Keras's GQA returns them.
        self.assertAllClose(
            _np(scores), a[f"dropout_scores_{backend}"], atol=1e-5, rtol=1e-5
        )
