"""`run_text` on a tiny random BERT: layer heads, token heads, ablation."""

import json
import os

import numpy as np
import pytest

from keras_daam.experiments import text
from keras_daam.experiments import wordnet
from tests.experiments.tiny import TINY_DIM
from tests.experiments.tiny import TINY_LAYERS
from tests.experiments.tiny import needs_wordnet

HEADS = ["linear_last_layer", "none_flatten", "daam_h2_flatten"]


def test_run_text_checks_heads_before_loading(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise AssertionError("loaded data before checking the heads")

    monkeypatch.setattr(wordnet, "load_splits", fail)
    with pytest.raises(ValueError, match="Unknown head"):
        text.run_text(str(tmp_path), heads="none_flatten,bogus")
    with pytest.raises(ValueError, match="seeds=0"):
        text.run_text(str(tmp_path), seeds=0)
    with pytest.raises(ValueError, match="sequence_length=0"):
        text.run_text(str(tmp_path), sequence_length=0)


@pytest.mark.large
# Orchestrates public API tested on every backend elsewhere: once.
@pytest.mark.backend_independent
@needs_wordnet
@pytest.mark.filterwarnings("ignore:.*spans only")
def test_run_text_on_tiny_bert(tiny_minilm, tmp_path):
    out = str(tmp_path / "results")
    cache = str(tmp_path / "cache")
    report = text.run_text(
        out,
        num_train=48,
        num_val=24,
        num_test=24,
        seeds=2,
        max_epochs=2,
        # One rate: the grid's selection is fit_and_select's (tested in
        # tests/evaluation); two would train every head and seed twice.
        learning_rates=(1e-3,),
        heads=HEADS,
        cache_dir=cache,
        extract_batch_size=16,
        command="reproduce text",
    )
    assert list(report["results"]) == HEADS + list(text.TOKEN_HEADS)
    assert report["features"] == [TINY_LAYERS, TINY_DIM]
    assert all(len(runs) == 2 for runs in report["results"].values())
    comps = report["comparisons"]
    base = text.TOKEN_HEADS[0]
    for name in text.TOKEN_HEADS[1:]:
        assert f"{name}_vs_{base}" in comps
    assert set(HEADS[:2]) <= set(comps)
    ab = report["if_ablation"]
    assert ab["head"] == "daam_h1_flatten" and ab["k"] == 2
    assert len(ab["top_layers"]) == len(ab["bottom_layers"]) == 2
    assert not set(ab["top_layers"]) & set(ab["bottom_layers"])
    assert len(ab["top_accuracy"]) == 2
    assert sum(ab["layer_contribution_percent"]) == pytest.approx(100)
    assert ab["comparison"]["verdict"] in ("A better", "B better", "tie")
    saved = json.load(open(os.path.join(out, "text.json")))
    assert saved["if_ablation"]["top_layers"] == ab["top_layers"]
    md = open(os.path.join(out, "text.md")).read()
    assert md.startswith("# text\n\n`reproduce text` on ")
    assert "IF ablation (`daam_h1_flatten`, k=2" in md
    assert "(`tokens_daam_h1_pool`)" in md

    # One feature cache serves both: pooled layers and last-layer tokens.
    from keras_daam.features import FeatureCache

    key = wordnet.cache_key(48, 24, 24, 0, 64)
    pooled = FeatureCache(os.path.join(cache, key, "pooled", "val"))
    tokens = FeatureCache(os.path.join(cache, key, "last_tokens", "val"))
    assert np.shape(pooled.features) == (24, TINY_LAYERS, TINY_DIM)
    assert np.shape(tokens.features)[:2] == (24, 1)
    # The masked mean of the cached last-layer tokens is the cached pooled
    # last layer (float16 storage of the tokens aside).
    h = np.asarray(tokens.features[:, 0], "float32")
    m = np.asarray(tokens.padding_mask, "float32")[..., None]
    mean = (h * m).sum(1) / m.sum(1)
    np.testing.assert_allclose(
        mean, pooled.features[:, -1], rtol=1e-2, atol=1e-2
    )


@pytest.mark.large
# Orchestrates public API tested on every backend elsewhere: once.
@pytest.mark.backend_independent
@needs_wordnet
def test_run_text_without_a_daam_layer_head(tiny_minilm, tmp_path):
    """Only a probe on the layers: the token heads are compared with their
    own baseline, and nothing needs the (absent) headline."""
    report = text.run_text(
        str(tmp_path / "results"),
        num_train=32,
        num_val=16,
        num_test=16,
        seeds=1,
        max_epochs=1,
        learning_rates=(1e-3,),
        heads=["linear_last_layer"],
        ablation=False,
        cache_dir=str(tmp_path / "cache"),
    )
    assert report["headline"] is None
    assert set(report["comparisons"]) == {
        f"{name}_vs_{text.TOKEN_HEADS[0]}" for name in text.TOKEN_HEADS[1:]
    }
    assert "if_ablation" not in report
