"""Registry heads of the jepa formulation and the gate, and their maps.

`daam_jepa_hN_kK_<decoder>` (DAAM, jepa formulation, over the layer axis),
`tokens_daam_jepa_h1_k4_pool` and `tokens_daam_gate_k4_pool` (token states
with a padding mask): each name builds what it says and the explanation
tools read their Density Attention maps (`tests/heads/test_registry.py`
checks that the CLI's training path trains exactly `build_head(NAME)`).
"""

import numpy as np
import pytest

from keras_daam import explain
from keras_daam.heads import build_head
from keras_daam.heads import count_parameters
from keras_daam.heads import describe_heads
from keras_daam.heads import get_head_spec
from keras_daam.heads import head_names
from keras_daam.heads.registry import family_patterns
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityAdaptiveGate
from tests.backend_utils import to_numpy
from tests.layers.compiled import compiled_call

L, D, C = 6, 8, 3  # layers (or tokens), features, classes

# name -> (attention class, expected config entries, attention parameters)
NEW_HEADS = {
    "daam_jepa_h2_k3_flatten": (
        DensityAdaptiveAttention,
        {"formulation": "jepa", "num_heads": 2, "num_densities": 3, "axis": 1},
        2 * 2 * 3,
    ),
    "daam_jepa_h1_k4_conv": (
        DensityAdaptiveAttention,
        {"formulation": "jepa", "num_heads": 1, "num_densities": 4, "axis": 1},
        2 * 1 * 4,
    ),
    "tokens_daam_jepa_h1_k4_pool": (
        DensityAdaptiveAttention,
        {"formulation": "jepa", "num_heads": 1, "num_densities": 4, "axis": 1},
        2 * 1 * 4,
    ),
    "tokens_daam_gate_k4_pool": (
        DensityAdaptiveGate,
        {"num_densities": 4},
        (D + 1) + 2 * 4 + 1,  # projection, offsets and scales, alpha
    ),
}
LAYER_HEADS = [n for n in NEW_HEADS if not n.startswith("tokens_")]
TOKEN_HEADS = [n for n in NEW_HEADS if n.startswith("tokens_")]


def _layer_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, L, D)).astype("float32")
    return x, rng.integers(0, C, size=n)


def _token_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, L, D)).astype("float32")
    lengths = rng.integers(2, L, size=n)  # the last token is never real
    mask = np.arange(L)[None, :] < lengths[:, None]
    x[~mask] = 1e3  # padding that must never matter
    return {"features": x, "padding_mask": mask}, rng.integers(0, C, size=n)


@pytest.mark.parametrize("name", list(NEW_HEADS))
def test_name_builds_what_it_says(name):
    cls, expected, attention_params = NEW_HEADS[name]
    spec = get_head_spec(name)
    assert spec.use_mask == name.startswith("tokens_")
    model = build_head(
        name, num_layers=L, feature_dim=D, num_classes=C, compile=False
    )
    attention = model.get_layer("attention")
    assert type(attention) is cls
    config = attention.get_config()
    assert {k: config[k] for k in expected} == expected
    assert count_parameters(model)["attention"] == attention_params
    assert spec.decoder == name.rsplit("_", 1)[-1]


def test_listed_and_described():
    listed = head_names()
    text = describe_heads()
    for name in (
        "daam_jepa_h1_k4_flatten",
        "daam_jepa_h1_k4_conv",
        "tokens_daam_jepa_h1_k4_pool",
        "tokens_daam_gate_k4_pool",
    ):
        assert name in listed
        assert f"{name}: {get_head_spec(name).label}" in text
    assert any(p.startswith("daam_jepa_hN_kK_") for p in family_patterns())
    for bad in ("daam_jepa_h0_k4_flatten", "daam_jepa_h2_k0_conv"):
        with pytest.raises(ValueError, match="Unknown head"):
            get_head_spec(bad)


def _masked_mean(maps, mask):
    m = np.broadcast_to(mask.reshape(mask.shape + (1,)), maps.shape)
    total = np.where(m, maps, 0.0).sum(axis=0)
    count = m.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def test_importance_factor_of_a_jepa_head():
    model = build_head(
        "daam_jepa_h2_k3_flatten",
        num_layers=L,
        feature_dim=D,
        num_classes=C,
        compile=False,
        seed=0,
    )
    x, _ = _layer_data(20, seed=5)
    maps = explain.collect_density_maps(model, x, batch_size=16)
    assert maps.shape == (L, D)
    _, gate = compiled_call(
        model.get_layer("attention"), x, return_attention_scores=True
    )
    np.testing.assert_allclose(maps, to_numpy(gate).mean(axis=0), atol=1e-5)
    importance = explain.importance_factor(maps)
    assert importance.min() == 0.0 and importance.max() == 1.0
    assert explain.layer_contribution(importance).sum() == pytest.approx(100)
    assert explain.top_k_layers(importance, 2).shape == (2,)


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_maps_of_the_token_heads(name):
    model = build_head(
        name, num_layers=L, feature_dim=D, num_classes=C, compile=False, seed=0
    )
    data, y = _token_data(20, seed=6)
    # Two batches (a streaming mean), as few shapes as possible (compiles).
    maps = explain.collect_density_maps(model, data, batch_size=10)
    attention = model.get_layer("attention")
    _, gate = compiled_call(
        attention,
        data["features"],
        padding_mask=data["padding_mask"],
        return_attention_scores=True,
    )
    expected = _masked_mean(to_numpy(gate), data["padding_mask"])
    # the gate's map is one value per token, the jepa DAAM's per feature
    width = 1 if isinstance(attention, DensityAdaptiveGate) else D
    assert maps.shape == (L, width)
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    assert np.isnan(maps[-1]).all()  # never a real token: no value
    assert np.isfinite(maps[:-1]).all()
    importance = explain.importance_factor(maps)
    assert np.nanmin(importance) == 0.0 and np.nanmax(importance) == 1.0
    contribution = explain.layer_contribution(importance)
    assert contribution.sum() == pytest.approx(100)
    classes = explain.collect_class_maps(model, data, labels=y, batch_size=10)
    assert sorted(classes) == sorted(set(y.tolist()))
    assert all(m.shape == (L, width) for m in classes.values())
    # A fresh copy of the head (same config) for the training-effect check.
    effect = explain.compare_with_initialization(model, data, batch_size=10)
    assert effect.trained_if.shape == effect.initial_if.shape == (1, L, width)
    np.testing.assert_allclose(effect.trained_if[0], importance, atol=1e-6)
    assert sorted(effect.weight_change[0]) == sorted(
        w.path.split("/", 1)[-1] for w in attention.weights
    )
