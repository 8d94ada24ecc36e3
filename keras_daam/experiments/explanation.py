"""The Importance Factor of a trained head, as figures and a summary."""

import os

import numpy as np

from keras_daam import explain
from keras_daam.utils import check_positive_int


def explain_head(model, features, output_dir, k=2, plots=True):
    """IF heat map, layer contributions and the top/bottom layers of a head.

    Args:
        model: a trained head with a DAAM layer named `"attention"` (from
            `build_head`, or loaded from a `.keras` file).
        features: `[N, L, d]` features to average the map over (use the
            validation split).
        output_dir: str. Where `importance_factor.npy` and, with `plots`,
            `importance_factor.png` and `layer_contribution.png` go.
        k: int. How many top and bottom layers to name (at most half the
            layers). Defaults to 2.
        plots: bool. Draw the two figures (needs matplotlib). Defaults to
            `True`.

    Returns:
        A dict with `layer_contribution_percent` (per layer, sums to 100),
        `top_k_layers` and `bottom_k_layers` (0-based) and `figures` (the
        paths written).

    Raises:
        ValueError: the model has no DAAM layer to explain.
    """
    k = check_positive_int("k", k)
    os.makedirs(output_dir, exist_ok=True)
    maps = explain.collect_density_maps(model, features, batch_size=256)
    if_map = explain.importance_factor(maps)
    contribution = np.asarray(explain.layer_contribution(if_map))
    np.save(os.path.join(output_dir, "importance_factor.npy"), if_map)
    figures = []
    if plots:
        heat = os.path.join(output_dir, "importance_factor.png")
        bars = os.path.join(output_dir, "layer_contribution.png")
        labels = [f"L{i + 1}" for i in range(if_map.shape[0])]
        explain.plot_importance_heatmap(if_map, layer_labels=labels, path=heat)
        explain.plot_layer_contribution(
            contribution, layer_labels=labels, path=bars
        )
        figures = [heat, bars]
    k = max(1, min(k, if_map.shape[0] // 2))
    return {
        "layer_contribution_percent": [float(v) for v in contribution],
        "top_k_layers": [int(i) for i in explain.top_k_layers(if_map, k)],
        "bottom_k_layers": [int(i) for i in explain.bottom_k_layers(if_map, k)],
        "figures": figures,
    }
