"""`if_ablation`: rank on validation, retrain top and bottom layers."""

import json

import numpy as np
import pytest

from keras_daam import explain
from keras_daam.experiments import ablation

L, D, C = 6, 16, 3


def _split(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % C
    x = rng.normal(size=(n, L, D)).astype("float32")
    centers = np.random.default_rng(5).normal(size=(C, D)) * 1.5
    x[:, 4:] += centers[y][:, None]
    return x.astype("float32"), y


@pytest.mark.large
# Orchestrates public API tested on every backend elsewhere: once.
@pytest.mark.backend_independent
@pytest.mark.filterwarnings("ignore:.*spans only 2 element")
def test_if_ablation_goes_through_the_public_ablation(monkeypatch):
    seen = {}
    public = explain.importance_ablation

    def spy(features, labels, if_map, k, val_data, test_data, **kwargs):
        seen.update(kwargs, if_map=if_map, k=k)
        return public(
            features, labels, if_map, k, val_data, test_data, **kwargs
        )

    monkeypatch.setattr(explain, "importance_ablation", spy)
    train, val, test = _split(60, 0), _split(30, 1), _split(30, 2)
    lines = []
    out = ablation.if_ablation(
        train,
        val,
        test,
        num_classes=C,
        seeds=2,
        learning_rates=(1e-2,),
        max_epochs=2,
        batch_size=16,
        log=lines.append,
    )
    assert seen["head"] == "daam_h1_flatten" and seen["k"] == 2
    assert list(seen["seeds"]) == [0, 1]
    assert seen["if_map"].shape == (L, D)
    assert out["head"] == "daam_h1_flatten"
    assert len(out["top_accuracy"]) == len(out["bottom_accuracy"]) == 2
    assert sum(out["layer_contribution_percent"]) == pytest.approx(100)
    assert set(out["ranking_run"]) == {
        "learning_rate",
        "epochs",
        "val_accuracy",
    }
    json.dumps(out)  # JSON-able: no models, no arrays
    assert any("IF layer contributions" in line for line in lines)
    sentence = ablation.ablation_sentence(out)
    assert sentence.startswith("IF ablation (`daam_h1_flatten`, k=2, 2 seed")
    assert str(out["top_layers"]) in sentence


def test_if_ablation_names_a_head_that_cannot_explain():
    train = _split(12, 0)
    with pytest.raises(ValueError, match="Unknown head"):
        ablation.if_ablation(train, train, train, C, head="nope")
