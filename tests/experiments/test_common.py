"""Shared experiment helpers: head lists, fitting heads, standardising."""

import numpy as np
import pytest

from keras_daam.experiments import common
from keras_daam.heads import is_head_name


def test_layer_heads_are_registry_names():
    assert all(is_head_name(n) for n in common.LAYER_HEADS)
    assert common.HEADLINE in common.LAYER_HEADS
    assert common.ONE_HEAD in common.LAYER_HEADS


def test_as_head_list():
    assert common.as_head_list(None, ("a", "b")) == ["a", "b"]
    assert common.as_head_list("x, y,", ()) == ["x", "y"]
    assert common.as_head_list(("x",), ()) == ["x"]


def test_fitting_heads_drops_defaults_but_not_named_heads():
    lines = []
    kept = common.fitting_heads(
        ["none_flatten", "daam_h2_flatten"],
        5,
        8,
        explicit=False,
        log=lines.append,
    )
    # 2 DAAM heads cannot split 5 layers: left out of a default list ...
    assert kept == ["none_flatten"]
    assert "daam_h2_flatten" in lines[0]
    # ... but a head the caller named must fit.
    with pytest.raises(ValueError, match="daam_h2_flatten"):
        common.fitting_heads(["daam_h2_flatten"], 5, 8, explicit=True)


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = (rng.normal(3.0, 2.0, size=(200, 4, 5)), np.zeros(200))
    test = (rng.normal(10.0, 5.0, size=(50, 4, 5)), np.zeros(50))
    (x_train, _), (x_test, _) = common.standardize([train, test])
    np.testing.assert_allclose(x_train.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(x_train.std(0), 1.0, atol=1e-4)
    mean = train[0].mean(0)
    std = train[0].std(0) + 1e-6
    np.testing.assert_allclose(x_test, (test[0] - mean) / std)
    assert x_test.mean() > 2.0  # not re-centred on its own statistics


def test_check_protocol():
    assert common.check_protocol(1, 2, 0, 3) == (1, 2, 0, 3)
    for args, name in (
        ((0, 2, 0, 3), "seeds=0"),
        ((1, 0, 0, 3), "max_epochs=0"),
        ((1, 2, -1, 3), "patience=-1"),
        ((1, 2, 0, 0), "batch_size=0"),
    ):
        with pytest.raises(ValueError, match=name):
            common.check_protocol(*args)
