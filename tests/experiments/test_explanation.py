"""`explain_head`: IF figures and the summary of a trained head."""

import os

import numpy as np
import pytest

from keras_daam.experiments import explain_head
from keras_daam.heads import build_head


def test_explain_head_writes_figures_and_summary(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 6, 8)).astype("float32")
    model = build_head(
        "daam_h2_flatten", num_layers=6, feature_dim=8, num_classes=3, seed=0
    )
    out = explain_head(model, x, str(tmp_path), k=2)
    assert len(out["layer_contribution_percent"]) == 6
    assert sum(out["layer_contribution_percent"]) == pytest.approx(100)
    assert len(out["top_k_layers"]) == len(out["bottom_k_layers"]) == 2
    contribution = np.array(out["layer_contribution_percent"])
    assert contribution[out["top_k_layers"]].min() >= (
        contribution[out["bottom_k_layers"]].max()
    )
    for path in out["figures"]:
        assert os.path.getsize(path) > 1000
    if_map = np.load(tmp_path / "importance_factor.npy")
    assert if_map.shape == (6, 8) and if_map.min() == 0 and if_map.max() == 1
    quiet = explain_head(model, x, str(tmp_path / "q"), k=9, plots=False)
    assert quiet["figures"] == [] and len(quiet["top_k_layers"]) == 3


def test_explain_head_refuses_a_head_without_daam(tmp_path):
    model = build_head(
        "mha_flatten", num_layers=6, feature_dim=8, num_classes=3, seed=0
    )
    with pytest.raises(ValueError):
        explain_head(model, np.zeros((4, 6, 8), "float32"), str(tmp_path))
