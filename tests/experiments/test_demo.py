"""`run_demo`: checks first, then the whole demo on a tiny random BERT."""

import json
import os

import pytest

from keras_daam import evaluation
from keras_daam.experiments import demo
from keras_daam.experiments import wordnet
from keras_daam.heads import build_head
from keras_daam.heads import is_head_name
from keras_daam.heads import trainable_parameter_count
from tests.experiments.tiny import TINY_DIM
from tests.experiments.tiny import TINY_LAYERS
from tests.experiments.tiny import needs_wordnet


def test_demo_constants_are_registry_names():
    for names in (demo.DEMO_HEADS, demo.QUICK_HEADS, demo.BASELINES):
        assert all(is_head_name(n) for n in names), names
    assert demo.HEADLINE == "daam_h2_flatten"
    assert demo.HEADLINE in demo.DEMO_HEADS and demo.HEADLINE in (
        demo.QUICK_HEADS
    )
    assert set(demo.BASELINES) <= set(demo.QUICK_HEADS)
    assert demo.DEMO_SEQUENCE_LENGTH == 64


def _forbid_extraction(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("extracted before checking the arguments")

    monkeypatch.setattr(wordnet, "wordnet_features", fail)
    monkeypatch.setattr(wordnet, "load_splits", fail)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"heads": ["none_flatten", "nope"]}, ValueError, "Unknown head"),
        # 4 heads cannot split MiniLM's 6 layers.
        ({"heads": "none_flatten,daam_h4_flatten"}, ValueError, "h4"),
        ({"heads": ["tokens_mean_linear"]}, ValueError, "padding mask"),
        ({"num_train": 0}, ValueError, "num_train=0"),
        ({"seeds": 0}, ValueError, "seeds=0"),
        ({"max_epochs": 0}, ValueError, "max_epochs=0"),
        ({"patience": -2}, ValueError, "patience=-2"),
        ({"extract_batch_size": 0}, ValueError, "extract_batch_size=0"),
        ({"train_batch_size": 0}, ValueError, "train_batch_size=0"),
        ({"split_seed": -1}, ValueError, "split_seed=-1"),
    ],
)
def test_run_demo_checks_before_extracting(
    monkeypatch, tmp_path, kwargs, error, message
):
    _forbid_extraction(monkeypatch)
    with pytest.raises(error, match=message):
        demo.run_demo(str(tmp_path / "out"), **kwargs)
    assert not (tmp_path / "out").exists()


def test_run_demo_names_missing_data(monkeypatch, tmp_path):
    _forbid_extraction(monkeypatch)
    original = wordnet.check_wordnet
    missing = str(tmp_path / "none")
    monkeypatch.setattr(wordnet, "check_wordnet", lambda: original(missing))
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        demo.run_demo(str(tmp_path / "out"))


@pytest.mark.large
# Orchestrates public API tested on every backend elsewhere: once.
@pytest.mark.backend_independent
@needs_wordnet
def test_run_demo_on_tiny_bert(tiny_minilm, tmp_path):
    out = str(tmp_path / "demo")
    lines = []
    heads = ["linear_last_layer", "none_flatten", "daam_h2_flatten"]
    report = demo.run_demo(
        out,
        num_train=60,
        num_val=30,
        num_test=30,
        heads=heads,
        max_epochs=2,
        extract_batch_size=16,
        log=lines.append,
    )
    assert report["sizes"] == {"num_train": 60, "num_val": 30, "num_test": 30}
    assert list(report["results"]) == heads
    assert report["heads"] == heads and report["headline"] == demo.HEADLINE
    assert set(report["comparisons"]) == {"linear_last_layer", "none_flatten"}
    run = report["results"]["daam_h2_flatten"][0]
    assert run["trainable_params"] == trainable_parameter_count(
        build_head(
            "daam_h2_flatten",
            num_layers=TINY_LAYERS,
            feature_dim=TINY_DIM,
            num_classes=26,
        )
    )
    assert 0.0 <= run["test_accuracy"] <= 1.0
    expl = report["explanation"]
    assert len(expl["layer_contribution_percent"]) == TINY_LAYERS
    assert sum(expl["layer_contribution_percent"]) == pytest.approx(100)
    for name in ("importance_factor.png", "layer_contribution.png"):
        assert os.path.getsize(os.path.join(out, name)) > 1000
    # The printed summary: the table with registry names, the comparisons.
    assert "(`daam_h2_flatten`)**" in report["text"]
    assert "| daam_h2_flatten minus |" in report["text"]
    saved = json.load(open(os.path.join(out, "report.json")))
    assert saved["results"] == report["results"]
    md = open(os.path.join(out, "report.md")).read()
    assert md.startswith(f"# {demo.TITLE}")
    assert any("loading MiniLM" in line for line in lines)
    # Everything cached in the one feature cache, under <output>/cache.
    cache = os.path.join(
        out, "cache", wordnet.cache_key(60, 30, 30, 0, 64), "pooled", "train"
    )
    assert os.path.isdir(cache)
    before = {
        f: os.path.getmtime(os.path.join(cache, f)) for f in os.listdir(cache)
    }

    # A second run reuses the cache (nothing rewritten) and gives the same
    # selections and predictions: seeds fix everything.
    again = demo.run_demo(
        out,
        num_train=60,
        num_val=30,
        num_test=30,
        heads=heads,
        max_epochs=2,
        plots=False,
    )
    after = {
        f: os.path.getmtime(os.path.join(cache, f)) for f in os.listdir(cache)
    }
    assert {f: after[f] for f in before if f.endswith(".npy")} == {
        f: before[f] for f in before if f.endswith(".npy")
    }
    for name in heads:
        first, second = report["results"][name][0], again["results"][name][0]
        assert first["learning_rate"] == second["learning_rate"]
        assert first["val_accuracy"] == second["val_accuracy"]
        assert first["test_accuracy"] == second["test_accuracy"]


def test_demo_heads_fit_minilm_features():
    """Every demo head takes MiniLM's 6 x 384 stacked layers and builds at
    that shape. (That the model `train_heads` trains is `build_head(NAME)`
    is checked for every registered name in tests/heads/test_registry.py.)
    """
    num_layers, dim = wordnet.MINILM_SHAPE
    specs = evaluation.check_heads(
        list(demo.DEMO_HEADS), num_layers, dim, tokens=False
    )
    assert [s.name for s in specs] == list(demo.DEMO_HEADS)
    for name in demo.DEMO_HEADS:
        model = build_head(
            name,
            num_layers=num_layers,
            feature_dim=dim,
            num_classes=26,
            compile=False,
        )
        assert model.input_shape == (None, num_layers, dim), name
        assert model.output_shape == (None, 26), name
        assert trainable_parameter_count(model) > 0, name
