"""Plots render without a display (Agg) with the expected axes."""

import sys

import numpy as np
import pytest

from keras_daam import explain

pytest.importorskip("matplotlib")


def _if_map(n_layers, n_features, seed=0):
    rng = np.random.default_rng(seed)
    return explain.importance_factor(rng.random((n_layers, n_features)))


@pytest.mark.parametrize(
    "n_layers,n_features", [(6, 384), (24, 1024), (40, 5120)]
)
def test_heatmap_axes(n_layers, n_features, tmp_path):
    if_map = _if_map(n_layers, n_features)
    fig = explain.plot_importance_heatmap(
        if_map, path=tmp_path / "if.png", dpi=40
    )
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Layer"
    assert ax.get_xlabel().startswith("Feature")
    assert ax.get_title() == "Importance Factor"
    # Every layer labelled, 0-based.
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [str(i) for i in range(n_layers)]
    # A readable number of feature ticks whatever the width.
    fig.canvas.draw()
    xticks = [t for t in ax.get_xticks() if 0 <= t <= n_features - 1]
    assert 3 <= len(xticks) <= 10
    # The image is the map, row 0 at the top, fixed [0, 1] colour scale.
    image = ax.get_images()[0]
    np.testing.assert_allclose(image.get_array(), if_map)
    assert image.get_clim() == (0.0, 1.0)
    assert len(fig.axes) == 2  # the colour bar
    assert fig.axes[1].get_ylabel() == "IF"
    assert (tmp_path / "if.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_many_layers_custom_labels_and_svg(tmp_path):
    fig = explain.plot_importance_heatmap(
        _if_map(48, 16), path=tmp_path / "if.svg", title=None
    )
    ax = fig.axes[0]
    fig.canvas.draw()
    shown = [t for t in ax.get_yticks() if 0 <= t <= 47]
    assert 5 <= len(shown) <= 25  # sparse beyond 40 layers
    assert ax.get_title() == ""
    assert b"<svg" in (tmp_path / "if.svg").read_bytes()[:500]
    labels = [f"L{i + 1}" for i in range(6)]
    fig = explain.plot_importance_heatmap(_if_map(6, 8), layer_labels=labels)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == labels
    with pytest.raises(ValueError, match="6 layers"):
        explain.plot_importance_heatmap(_if_map(6, 8), layer_labels=["a"])
    with pytest.raises(ValueError, match="2-D"):
        explain.plot_importance_heatmap(np.ones(3))


def test_layer_contribution_bars(tmp_path):
    if_map = _if_map(12, 32)
    contrib = explain.layer_contribution(if_map)
    top = explain.top_k_layers(if_map, 3)
    fig = explain.plot_layer_contribution(
        contrib, std=np.full(12, 0.5), highlight=top, path=tmp_path / "c.png"
    )
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, contrib)
    assert ax.get_xlabel() == "Layer"
    assert ax.get_ylabel() == "Contribution (%)"
    colors = {tuple(ax.patches[i].get_facecolor()) for i in top}
    others = {
        tuple(p.get_facecolor())
        for i, p in enumerate(ax.patches)
        if i not in set(top.tolist())
    }
    assert len(colors) == 1 and len(others) == 1 and colors != others
    # An IF map is turned into contributions.
    fig2 = explain.plot_layer_contribution(if_map)
    np.testing.assert_allclose(
        [p.get_height() for p in fig2.axes[0].patches], contrib
    )
    assert (tmp_path / "c.png").stat().st_size > 0
    with pytest.raises(ValueError, match="std"):
        explain.plot_layer_contribution(contrib, std=np.ones(3))


def test_class_profiles_lines_and_heatmap():
    rng = np.random.default_rng(0)
    maps = {c: rng.random((6, 16)) for c in range(3)}
    fig = explain.plot_class_profiles(maps, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    _, profiles = explain.class_profiles(maps)
    lines = ax.get_lines()
    assert len(lines) == 3
    for line, profile in zip(lines, profiles):
        np.testing.assert_allclose(line.get_ydata(), profile)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "a",
        "b",
        "c",
    ]
    assert ax.get_xlabel() == "Layer" and ax.get_ylabel() == "Mean IF"

    many = {c: rng.random((6, 4)) for c in range(26)}
    fig = explain.plot_class_profiles(many)  # auto -> heat map
    ax = fig.axes[0]
    assert ax.get_images()[0].get_array().shape == (26, 6)
    assert ax.get_ylabel() == "Class"
    with pytest.raises(ValueError, match="kind"):
        explain.plot_class_profiles(maps, kind="pie")


def test_draws_into_given_axes():
    import matplotlib.figure

    fig = matplotlib.figure.Figure()
    ax1, ax2 = fig.subplots(1, 2)
    out = explain.plot_layer_contribution(np.array([50.0, 50.0]), ax=ax2)
    assert out is fig
    assert len(ax2.patches) == 2 and len(ax1.patches) == 0


def test_clear_error_without_matplotlib(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        explain.plot_importance_heatmap(np.ones((2, 2)))
