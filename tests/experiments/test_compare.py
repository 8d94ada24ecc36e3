"""Extra paired comparisons in the experiments' reports (`compare=`)."""

import numpy as np
import pytest

from keras_daam.experiments.common import check_compare
from keras_daam.experiments.common import layer_heads_report


def _parts(seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for n in (48, 24, 24):
        y = rng.integers(0, 3, n)
        x = rng.normal(size=(n, 2, 4)).astype("float32") + y[:, None, None]
        parts.append((x, y))
    return parts


def test_also_compare_pairs_a_head_with_every_other_once():
    heads = ["daam_h1_flatten", "none_flatten", "linear_last_layer"]
    report, results, blocks = layer_heads_report(
        "tiny",
        _parts(),
        3,
        heads,
        True,
        1,
        1,
        0,
        16,
        False,
        print,
        also_compare=["none_flatten", "linear_last_layer"],
        # One rate is enough to pair the heads (the grid is not checked).
        learning_rates=(1e-2,),
    )
    assert report["headline"] == "daam_h1_flatten"
    # The headline's two pairs, then the extra pair once (not both ways).
    assert list(report["comparisons"]) == [
        "none_flatten",
        "linear_last_layer",
        "none_flatten_vs_linear_last_layer",
    ]
    assert "none_flatten_vs_linear_last_layer" in blocks[1]


def test_compare_must_name_trained_heads():
    heads = ["none_flatten", "daam_h1_flatten"]
    assert check_compare("none_flatten", heads) == ["none_flatten"]
    assert check_compare((), heads) == []
    with pytest.raises(ValueError, match="not trained.*mha_flatten"):
        check_compare("mha_flatten", heads)


def test_run_text_checks_token_heads_before_extracting(tmp_path):
    from keras_daam.experiments import run_text

    with pytest.raises(ValueError, match="daam_h2_flatten"):
        # A layer-axis head where token heads are asked for.
        run_text(
            output=str(tmp_path / "out"),
            cache_dir=str(tmp_path / "cache"),
            heads=["none_flatten"],
            token_heads="tokens_mean_linear,daam_h2_flatten",
            ablation=False,
        )
    assert not (tmp_path / "cache").exists()
