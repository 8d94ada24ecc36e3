import keras
import numpy as np
import pytest

from keras_daam import evaluation


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


def test_fit_and_select_rejects_empty_validation():
    train = _toy(20, 0)
    empty = (train[0][:0], train[1][:0])
    with pytest.raises(ValueError, match="validation split is empty"):
        evaluation.fit_and_select(_build, train, empty, max_epochs=1)


def test_mcnemar_exact_values():
    y = np.zeros(20, "int64")
    a = np.zeros(20, "int64")
    b = a.copy()
    assert evaluation.mcnemar_test(y, a, b) == 1.0
    b[:10] = 1  # A right / B wrong on 10 examples, never the reverse.
    assert evaluation.mcnemar_test(y, a, b) == pytest.approx(2 * 0.5**10)
    # Symmetric in its arguments.
    assert evaluation.mcnemar_test(y, b, a) == evaluation.mcnemar_test(y, a, b)


def test_paired_bootstrap_and_compare_verdicts():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    good = np.where(rng.random((3, 2000)) < 0.9, y, (y + 1) % 5)
    bad = np.where(rng.random((3, 2000)) < 0.6, y, (y + 1) % 5)
    boot = evaluation.paired_bootstrap(y, good, bad, num_samples=500)
    assert 0.25 < boot["difference"] < 0.35
    assert boot["ci_low"] > 0 and boot["p_value"] < 0.01
    runs = lambda p: [  # noqa: E731
        {"test_accuracy": float(np.mean(r == y)), "test_predictions": r}
        for r in p
    ]
    c = evaluation.compare(y, runs(good), runs(bad), num_samples=500)
    assert c["verdict"] == "A better" and len(c["mcnemar_p"]) == 3
    c = evaluation.compare(y, runs(bad), runs(good), num_samples=500)
    assert c["verdict"] == "B better"
    c = evaluation.compare(y, runs(good), runs(good), num_samples=500)
    assert c["verdict"] == "tie" and c["mean"] == 0.0


def test_summarize_and_format():
    runs = [
        {
            "test_accuracy": a,
            "val_accuracy": a,
            "train_time_s": 1.0,
            "trainable_params": 10,
            "learning_rate": 1e-3,
            "epochs": 3,
        }
        for a in (0.7, 0.8, 0.9)
    ]
    s = evaluation.summarize(runs)
    assert s["test_accuracy_mean"] == pytest.approx(0.8)
    assert s["test_accuracy_std"] == pytest.approx(0.1)
    assert evaluation.format_mean_std(0.8, 0.1, 3) == "80.0 +- 10.0"
    assert evaluation.format_mean_std(0.8, 0.0, 1) == "80.0"
