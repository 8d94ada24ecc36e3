"""Trained vs initial IF: Spearman, spread over seeds, weight change."""

import numpy as np
import pytest
from keras import ops

from keras_daam import explain
from keras_daam.layers import DensityAdaptiveAttention

L, D = 6, 8


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    # Layers with different spreads give the map a clear layer ranking.
    scale = np.linspace(0.5, 3.0, L)[None, :, None]
    return (rng.normal(size=(n, L, D)) * scale).astype("float32")


def _layer(offset=None):
    layer = DensityAdaptiveAttention(num_heads=1)
    layer.build((None, L, D))
    if offset is not None:
        layer.mean_offset.assign(offset)
    return layer


def test_untouched_layer_matches_its_initial_state():
    layer = _layer()
    effect = explain.compare_with_initialization(layer, _data())
    assert effect.spearman.shape == (1,)
    assert effect.spearman[0] == pytest.approx(1.0)
    np.testing.assert_allclose(effect.trained_if, effect.initial_if)
    assert all(v == 0.0 for v in effect.weight_change[0].values())
    assert effect.trained_contribution.shape == (1, L)
    np.testing.assert_allclose(effect.trained_contribution.sum(1), [100.0])
    assert np.isnan(effect.seed_spearman)
    assert "barely changed" in effect.summary()


def test_changed_weights_against_given_initial_and_seeds():
    x = _data()
    initial = _layer()
    # Large per-layer-group offsets: 1 head spans all layers, so shift the
    # features instead (delta is per feature); it changes the map.
    rng = np.random.default_rng(0)
    trained = [
        _layer(rng.normal(scale=2.0, size=(1, 1, D)).astype("float32"))
        for _ in range(3)
    ]
    effect = explain.compare_with_initialization(trained, x, initial=initial)
    assert effect.trained_if.shape == (3, L, D)
    assert effect.initial_if.shape == (3, L, D)
    # The same initial map for every seed.
    np.testing.assert_allclose(effect.initial_if[0], effect.initial_if[2])
    for i, layer in enumerate(trained):
        expected = explain.layer_contribution(
            explain.importance_factor(explain.collect_density_maps(layer, x))
        )
        np.testing.assert_allclose(
            effect.trained_contribution[i], expected, rtol=1e-5
        )
        rho = explain.spearman_rank_correlation(
            expected, effect.initial_contribution[i]
        )
        assert effect.spearman[i] == pytest.approx(rho)
        change = effect.weight_change[i]
        assert change["mean_offset"] == pytest.approx(
            float(np.abs(ops.convert_to_numpy(layer.mean_offset)).max()),
            rel=1e-6,
        )
        assert change["scale"] == 0.0
    np.testing.assert_allclose(
        effect.contribution_mean, effect.trained_contribution.mean(0)
    )
    assert effect.contribution_std.shape == (L,)
    assert -1.0 <= effect.seed_spearman <= 1.0
    text = effect.summary()
    assert "seeds: 3" in text and "Spearman" in text


def test_mismatched_initial_list():
    with pytest.raises(ValueError, match="2 trained models but 3"):
        explain.compare_with_initialization(
            [_layer(), _layer()], _data(), initial=[_layer()] * 3
        )
    with pytest.raises(ValueError, match="empty"):
        explain.compare_with_initialization([], _data())


def test_initial_copy_of_layer_has_fresh_weights():
    layer = _layer(np.ones((1, 1, D), "float32"))
    copy = explain.initial_copy(layer)
    assert copy is not layer
    copy.build((None, L, D))
    assert np.all(ops.convert_to_numpy(copy.mean_offset) == 0.0)
    assert np.all(ops.convert_to_numpy(copy.scale) == 2.0)
