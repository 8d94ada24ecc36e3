"""`fit_and_select`: selection on validation only, test once; checks."""

import keras
import numpy as np
import pytest

from keras_daam import evaluation
from keras_daam.heads import build_head
from keras_daam.heads import trainable_parameter_count


def _toy(n, seed):
    centers = np.random.default_rng(123).normal(size=(3, 2, 4)) * 2.0
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = centers[y] + rng.normal(size=(n, 2, 4))
    return x.astype("float32"), y


def _build(seed):
    return keras.Sequential(
        [keras.Input((2, 4)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )


def test_fit_and_select_picks_rate_on_validation_only():
    train, val, test = _toy(240, 0), _toy(60, 1), _toy(90, 2)
    out = evaluation.fit_and_select(
        _build,
        train,
        val,
        test,
        learning_rates=(1e-2, 1e-6),
        max_epochs=6,
        patience=2,
        batch_size=32,
    )
    # A rate of 1e-6 cannot learn in 6 epochs: validation must pick 1e-2.
    assert out["learning_rate"] == 1e-2
    assert [g["learning_rate"] for g in out["grid"]] == [1e-2, 1e-6]
    assert out["val_accuracy"] == max(g["val_accuracy"] for g in out["grid"])
    assert 1 <= out["epochs"] <= 6
    assert out["trainable_params"] == 2 * 4 * 3 + 3
    assert out["test_predictions"].shape == (90,)
    assert out["test_accuracy"] == pytest.approx(
        np.mean(out["test_predictions"] == test[1])
    )
    assert out["test_accuracy"] > 0.6
    # The selected run's history, as long as the epochs it ran.
    assert len(out["history"]["val_accuracy"]) >= out["epochs"]
    # The reported validation accuracy is the restored model's.
    pred = evaluation.predict_classes(out["model"], val[0])
    assert out["val_accuracy"] == evaluation.accuracy(val[1], pred)


def test_test_split_never_influences_selection():
    # Whole batches of 32: one compiled shape per step (six models here).
    train, val, test = _toy(192, 0), _toy(64, 1), _toy(64, 2)
    kwargs = dict(learning_rates=(1e-2, 1e-3), max_epochs=3, batch_size=32)
    with_test = evaluation.fit_and_select(_build, train, val, test, **kwargs)
    # Scrambled test labels: the same selection, the same predictions.
    wrong = (test[0], (test[1] + 1) % 3)
    scrambled = evaluation.fit_and_select(_build, train, val, wrong, **kwargs)
    without = evaluation.fit_and_select(_build, train, val, **kwargs)
    for out in (scrambled, without):
        assert out["learning_rate"] == with_test["learning_rate"]
        assert out["epochs"] == with_test["epochs"]
        assert out["val_accuracy"] == with_test["val_accuracy"]
    np.testing.assert_array_equal(
        scrambled["test_predictions"], with_test["test_predictions"]
    )
    assert "test_accuracy" not in without


@pytest.mark.filterwarnings("ignore:.*spans only 2 element")
def test_same_seed_same_result_on_a_registered_head():
    train, val, test = _toy(120, 0), _toy(40, 1), _toy(40, 2)

    def build(seed):
        return build_head(
            "daam_h1_flatten",
            num_layers=2,
            feature_dim=4,
            num_classes=3,
            compile=False,
            seed=seed,
        )

    kwargs = dict(learning_rates=(1e-2,), max_epochs=2, batch_size=16)
    a = evaluation.fit_and_select(build, train, val, test, seed=3, **kwargs)
    b = evaluation.fit_and_select(build, train, val, test, seed=3, **kwargs)
    np.testing.assert_array_equal(a["test_predictions"], b["test_predictions"])
    assert a["val_accuracy"] == b["val_accuracy"]
    assert a["trainable_params"] == trainable_parameter_count(build(0))


def test_steps_per_execution_is_passed_to_compile():
    train, val = _toy(64, 0), _toy(32, 1)
    kwargs = dict(learning_rates=(1e-2,), max_epochs=1, steps_per_execution=4)
    if keras.backend.backend() == "torch":
        # Keras's PyTorch trainer runs one step per call: it refuses 4.
        with pytest.raises(ValueError, match="steps_per_execution"):
            evaluation.fit_and_select(_build, train, val, **kwargs)
        return
    out = evaluation.fit_and_select(_build, train, val, **kwargs)
    assert out["model"].steps_per_execution == 4


def test_fit_and_select_rejects_empty_validation():
    train = _toy(20, 0)
    empty = (train[0][:0], train[1][:0])
    with pytest.raises(ValueError, match="validation split is empty"):
        evaluation.fit_and_select(_build, train, empty, max_epochs=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rates": ()}, "learning_rates"),
        ({"learning_rates": (1e-3, 0.0)}, "learning_rates=0"),
        ({"learning_rates": (-1e-3,)}, "learning_rates=-0.001"),
        ({"max_epochs": 0}, "max_epochs=0"),
        ({"patience": -1}, "patience=-1"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 1.5}, "batch_size=1.5"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1"),
        ({"steps_per_execution": 0}, "steps_per_execution=0"),
    ],
)
def test_arguments_checked_at_the_door(kwargs, message):
    train, val = _toy(20, 0), _toy(10, 1)
    calls = []

    def build(seed):
        calls.append(seed)
        return _build(seed)

    with pytest.raises(ValueError, match=message):
        evaluation.fit_and_select(build, train, val, **kwargs)
    if "steps_per_execution" not in kwargs:
        assert calls == []  # refused before building anything


def test_mismatched_inputs_and_labels():
    x, y = _toy(20, 0)
    with pytest.raises(ValueError, match="20 inputs but 19 labels"):
        evaluation.fit_and_select(_build, (x, y[:-1]), _toy(10, 1))


def test_accuracy_and_predict_classes():
    assert evaluation.accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    with pytest.raises(ValueError, match="same shape"):
        evaluation.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        evaluation.accuracy([], [])
    model = _build(0)
    x = _toy(7, 0)[0]
    pred = evaluation.predict_classes(model, x, batch_size=3)
    assert pred.dtype == np.int64 and pred.shape == (7,)
    np.testing.assert_array_equal(pred, model.predict(x, verbose=0).argmax(-1))
