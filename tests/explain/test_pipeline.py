"""The whole explain pipeline on tiny heads from `build_head`."""

import keras
import numpy as np
import pytest

from keras_daam import explain
from keras_daam.heads import build_head

L, D, C = 6, 16, 3
SIGNAL = (4, 5)  # the layers that carry the class


def _split(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % C
    x = rng.normal(size=(n, L, D)).astype("float32")
    centers = np.random.default_rng(99).normal(size=(C, D)) * 1.5
    for layer in SIGNAL:
        x[:, layer] += centers[y].astype("float32")
    return x, y


@pytest.fixture(scope="module")
def data():
    return _split(96, 0), _split(48, 1), _split(48, 2)


def _head(seed=0):
    return build_head(
        L,
        D,
        C,
        attention="daam",
        decoder="flatten",
        num_heads=2,
        learning_rate=1e-2,
        seed=seed,
    )


@pytest.fixture(scope="module")
def trained(data):
    (x, y), (x_val, y_val), _ = data
    keras.utils.set_random_seed(0)
    model = _head(0)
    model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    return model


def test_pipeline_on_trained_head(data, trained, tmp_path):
    (x, y), (x_val, y_val), _ = data
    model = trained
    maps = explain.collect_density_maps(model, x_val, batch_size=20)
    assert maps.shape == (L, D)
    assert np.all((maps > 0) & (maps <= 1))  # the paper's gate
    # The same as reading the attention layer on the model's features.
    att = model.get_layer("attention")
    direct = explain.collect_density_maps(att, x_val)
    np.testing.assert_allclose(maps, direct, rtol=1e-5, atol=1e-7)

    if_map = explain.importance_factor(maps)
    assert if_map.min() == 0.0 and if_map.max() == 1.0
    contrib = explain.layer_contribution(if_map)
    np.testing.assert_allclose(contrib.sum(), 100.0)
    top = explain.top_k_layers(if_map, 2)
    bottom = explain.bottom_k_layers(if_map, 2)
    assert set(top) & set(bottom) == set()
    assert contrib[top].min() >= contrib[bottom].max()

    class_maps = explain.collect_class_maps(model, x_val, labels=y_val)
    assert sorted(class_maps) == [0, 1, 2]
    counts = np.bincount(y_val)
    pooled = sum(class_maps[c] * counts[c] for c in range(C)) / len(y_val)
    np.testing.assert_allclose(pooled, maps, rtol=1e-4, atol=1e-6)

    fig = explain.plot_importance_heatmap(if_map, path=tmp_path / "a.png")
    assert fig.axes[0].get_images()[0].get_array().shape == (L, D)
    explain.plot_layer_contribution(contrib, highlight=top)
    explain.plot_class_profiles(class_maps)
    rows = explain.to_table(if_map)
    assert len(rows) == L * D
    explain.write_csv(class_maps, tmp_path / "maps.csv")
    assert (tmp_path / "maps.csv").read_text().startswith("class,layer")


def test_trained_vs_initial(data, trained):
    (_, _), (x_val, _), _ = data
    effect = explain.compare_with_initialization([trained], x_val)
    assert effect.spearman.shape == (1,)
    assert np.all(np.abs(effect.spearman) <= 1.0)
    # Training moved the gate's parameters.
    for change in effect.weight_change:
        assert change["mean_offset"] > 0
    # The initial state is the untrained head with the same config.
    fresh = explain.importance_factor(
        explain.collect_density_maps(_head(0), x_val)
    )
    np.testing.assert_allclose(effect.initial_if[0], fresh, atol=1e-6)
    assert "Spearman" in effect.summary()


@pytest.mark.filterwarnings("ignore:.*spans only 2 element")
def test_retrain_on_signal_vs_noise_layers(data):
    (x, y), val, test = data
    kwargs = dict(learning_rates=(1e-2,), max_epochs=4, batch_size=16)
    good = explain.retrain_on_layers(x, y, list(SIGNAL), val, test, **kwargs)
    bad = explain.retrain_on_layers(x, y, [0, 1], val, test, **kwargs)
    assert good["layers"] == [4, 5]
    # The default head: one DAAM head over the selected layers.
    assert good["model"].name == "daam_h1_flatten"
    assert good["model"].input_shape == (None, 2, D)
    assert good["model"].get_layer("attention").num_heads == 1
    for r in (good, bad):
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert "loss" in r["history"]
        assert r["learning_rate"] == 1e-2 and 1 <= r["epochs"] <= 4
        assert r["test_predictions"].shape == (len(test[1]),)
    # Only the selected layers are used: signal layers separate the classes.
    assert good["test_accuracy"] >= 0.8
    assert good["test_accuracy"] > bad["test_accuracy"] + 0.25
    with pytest.raises(ValueError, match="out of range"):
        explain.retrain_on_layers(x, y, [6], val, test, **kwargs)
    with pytest.raises(ValueError, match="duplicates"):
        explain.retrain_on_layers(x, y, [1, 1], val, test, **kwargs)


def test_retrain_selects_on_validation_and_touches_test_once(data):
    (x, y), val, test = data
    kwargs = dict(max_epochs=3, batch_size=16, head="none_flatten")
    out = explain.retrain_on_layers(
        x, y, [4, 5], val, test, learning_rates=(1e-7, 1e-2), **kwargs
    )
    # 1e-7 cannot learn in 3 epochs: validation picks 1e-2.
    assert out["learning_rate"] == 1e-2
    assert [g["learning_rate"] for g in out["grid"]] == [1e-7, 1e-2]
    # Scrambled test labels change nothing but the reported test accuracy.
    wrong = (test[0], (test[1] + 1) % C)
    again = explain.retrain_on_layers(
        x, y, [4, 5], val, wrong, learning_rates=(1e-7, 1e-2), **kwargs
    )
    assert again["learning_rate"] == out["learning_rate"]
    assert again["val_accuracy"] == out["val_accuracy"]
    np.testing.assert_array_equal(
        again["test_predictions"], out["test_predictions"]
    )


def test_retrain_heads_by_name_or_custom(data):
    (x, y), val, test = data
    kwargs = dict(learning_rates=(1e-2,), max_epochs=1, batch_size=16)
    named = explain.retrain_on_layers(
        x, y, [3, 4, 5], val, test, head="daam_features_h4_flatten", **kwargs
    )
    assert named["model"].get_layer("attention").num_heads == 4
    custom = explain.retrain_on_layers(
        x,
        y,
        [3, 4, 5],
        val,
        test,
        head=None,
        attention="mha",
        decoder="pool",
        num_heads=2,
        **kwargs,
    )
    assert custom["model"].get_layer("attention").num_heads == 2
    with pytest.raises(ValueError, match="head=None"):
        explain.retrain_on_layers(
            x, y, [4, 5], val, test, attention="mha", **kwargs
        )
    with pytest.raises(ValueError, match="daam_h4_flatten"):
        explain.retrain_on_layers(
            x, y, [4, 5], val, test, head="daam_h4_flatten", **kwargs
        )
    with pytest.raises(ValueError, match="Unknown head"):
        explain.retrain_on_layers(x, y, [4, 5], val, test, head="nope")


def test_importance_ablation_orchestration(data, monkeypatch):
    (x, y), val, test = data
    calls = []

    def fake_retrain(features, labels, layers, val_data, test_data, **kw):
        calls.append((list(layers), kw["seed"], kw["max_epochs"]))
        # Top layers right on every example, bottom layers on seed-many.
        pred = np.array(test_data[1])
        if min(layers) < 4:
            pred[: 10 + kw["seed"]] = (pred[: 10 + kw["seed"]] + 1) % C
        return {
            "layers": list(layers),
            "test_accuracy": float(np.mean(pred == test_data[1])),
            "test_predictions": pred,
            "model": object(),
        }

    monkeypatch.setattr(explain.selection, "retrain_on_layers", fake_retrain)
    scores = np.array([0.0, 0.1, 0.2, 0.3, 0.9, 1.0])
    out = explain.importance_ablation(
        x, y, scores, 2, val, test, seeds=(0, 1), max_epochs=3
    )
    assert out["top_layers"] == [5, 4] and out["bottom_layers"] == [0, 1]
    assert calls == [
        ([5, 4], 0, 3),
        ([5, 4], 1, 3),
        ([0, 1], 0, 3),
        ([0, 1], 1, 3),
    ]
    n = len(test[1])
    assert out["top_accuracy"] == [1.0, 1.0]
    assert out["bottom_accuracy"] == pytest.approx([1 - 10 / n, 1 - 11 / n])
    assert out["top_mean"] == 1.0 and out["top_std"] == 0.0
    assert out["bottom_std"] == pytest.approx(
        np.std(out["bottom_accuracy"], ddof=1)
    )
    assert all("model" not in r for r in out["top_runs"] + out["bottom_runs"])
    comparison = out["comparison"]
    assert comparison["verdict"] == "A better"  # top minus bottom
    assert comparison["per_seed"] == pytest.approx([10 / n, 11 / n])


def test_masked_head(data):
    (_, _), (x_val, _), _ = data
    head = build_head(
        L, D, C, decoder="flatten", use_mask=True, num_heads=2, seed=0
    )
    mask = np.ones((len(x_val), L), dtype=bool)
    mask[::2, 5] = False
    maps = explain.collect_density_maps(head, x_val, padding_mask=mask)
    att = head.get_layer("attention")
    ref = explain.collect_density_maps(att, x_val, padding_mask=mask)
    np.testing.assert_allclose(maps, ref, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="padding_mask"):
        explain.collect_density_maps(head, x_val)


@pytest.mark.large
def test_gqdaam_and_mha_heads(data):
    (_, _), (x_val, _), _ = data
    gq = build_head(
        L,
        D,
        C,
        attention="gqdaam",
        decoder="flatten",
        hidden_dim=8,
        num_query_heads=2,
        num_key_value_heads=1,
        density_heads=2,
        seed=0,
    )
    maps = explain.collect_density_maps(gq, x_val)
    inner = gq.get_layer("attention").density_attention
    np.testing.assert_allclose(
        maps, explain.collect_density_maps(inner, x_val), rtol=1e-5
    )
    with pytest.raises(ValueError, match="no density map"):
        explain.collect_density_maps(
            build_head(L, D, C, attention="mha", decoder="flatten"), x_val
        )
