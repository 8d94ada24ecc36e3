"""McNemar, the paired bootstrap, `compare`, `summarize`, formatting."""

import math

import numpy as np
import pytest

from keras_daam import evaluation


def _lgamma_mcnemar(b, c):
    """The package's former hand-written exact test (a sum in log space)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    logs = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        - n * math.log(2.0)
        for i in range(k + 1)
    ]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return float(min(1.0, 2.0 * tail))


def _predictions(b, c, both_right=7, both_wrong=3):
    """Labels and two prediction vectors with `b` (A right, B wrong) and
    `c` (A wrong, B right) discordant examples."""
    n = b + c + both_right + both_wrong
    y = np.zeros(n, "int64")
    a = np.zeros(n, "int64")
    p = np.zeros(n, "int64")
    a[b : b + c] = 1  # A wrong where B is right
    p[:b] = 1  # B wrong where A is right
    a[b + c + both_right :] = 1
    p[b + c + both_right :] = 2
    return y, a, p


def test_mcnemar_known_values():
    y = np.zeros(20, "int64")
    a = np.zeros(20, "int64")
    b = a.copy()
    assert evaluation.mcnemar_test(y, a, b) == 1.0
    b[:10] = 1  # A right / B wrong on 10 examples, never the reverse.
    assert evaluation.mcnemar_test(y, a, b) == pytest.approx(2 * 0.5**10)
    # Symmetric in its arguments.
    assert evaluation.mcnemar_test(y, b, a) == evaluation.mcnemar_test(y, a, b)
    # 5 vs 1 discordant: 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7 / 64.
    assert evaluation.mcnemar_test(*_predictions(5, 1)) == pytest.approx(
        14 / 64
    )
    # 15 vs 5: 2 * (1 + 20 + 190 + 1140 + 4845 + 15504) / 2**20.
    assert evaluation.mcnemar_test(*_predictions(15, 5)) == pytest.approx(
        2 * 21700 / 2**20
    )
    # Equal discordant counts: no evidence at all.
    assert evaluation.mcnemar_test(*_predictions(4, 4)) == 1.0


@pytest.mark.parametrize(
    "b, c", [(0, 1), (1, 0), (3, 8), (40, 25), (120, 80), (500, 430), (7, 900)]
)
def test_mcnemar_matches_the_former_formula(b, c):
    p = evaluation.mcnemar_test(*_predictions(b, c))
    assert p == pytest.approx(_lgamma_mcnemar(b, c), rel=1e-9, abs=1e-300)
    assert 0.0 < p <= 1.0


def test_mcnemar_only_counts_discordant_examples():
    # Examples both get right or both get wrong do not change the p-value.
    few = evaluation.mcnemar_test(*_predictions(9, 2, 0, 0))
    many = evaluation.mcnemar_test(*_predictions(9, 2, 500, 300))
    assert few == pytest.approx(many)


def test_mcnemar_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one prediction per label"):
        evaluation.mcnemar_test([0, 1, 1], [0, 1], [0, 1, 1])


def test_paired_bootstrap_and_compare_verdicts():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    good = np.where(rng.random((3, 2000)) < 0.9, y, (y + 1) % 5)
    bad = np.where(rng.random((3, 2000)) < 0.6, y, (y + 1) % 5)
    boot = evaluation.paired_bootstrap(y, good, bad, num_samples=500)
    assert 0.25 < boot["difference"] < 0.35
    assert boot["ci_low"] > 0 and boot["p_value"] < 0.01
    assert boot["ci_low"] < boot["difference"] < boot["ci_high"]

    def runs(p):
        return [
            {"test_accuracy": float(np.mean(r == y)), "test_predictions": r}
            for r in p
        ]

    c = evaluation.compare(y, runs(good), runs(bad), num_samples=500)
    assert c["verdict"] == "A better" and len(c["mcnemar_p"]) == 3
    assert c["mean"] == pytest.approx(np.mean(c["per_seed"]))
    assert c["std"] == pytest.approx(np.std(c["per_seed"], ddof=1))
    c = evaluation.compare(y, runs(bad), runs(good), num_samples=500)
    assert c["verdict"] == "B better"
    c = evaluation.compare(y, runs(good), runs(good), num_samples=500)
    assert c["verdict"] == "tie" and c["mean"] == 0.0


def test_paired_bootstrap_is_seeded_and_checked():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.where(rng.random(300) < 0.7, y, 1 - y)
    b = np.where(rng.random(300) < 0.7, y, 1 - y)
    first = evaluation.paired_bootstrap(y, a, b, num_samples=300, seed=4)
    again = evaluation.paired_bootstrap(y, a, b, num_samples=300, seed=4)
    other = evaluation.paired_bootstrap(y, a, b, num_samples=300, seed=5)
    assert first == again
    assert first["difference"] == other["difference"]
    assert (
        first["ci_low"] != other["ci_low"]
        or first["ci_high"] != (other["ci_high"])
    )
    with pytest.raises(ValueError, match="same seeds and examples"):
        evaluation.paired_bootstrap(y, np.stack([a, a]), b)
    with pytest.raises(ValueError, match="num_samples"):
        evaluation.paired_bootstrap(y, a, b, num_samples=0)


def test_compare_needs_the_same_seeds():
    run = {"test_accuracy": 1.0, "test_predictions": np.zeros(3, "int64")}
    with pytest.raises(ValueError, match="same, non-empty list of seeds"):
        evaluation.compare(np.zeros(3), [run, run], [run])
    with pytest.raises(ValueError, match="Received 0 and 0"):
        evaluation.compare(np.zeros(3), [], [])


def test_summarize_and_format():
    runs = [
        {
            "test_accuracy": a,
            "val_accuracy": a - 0.1,
            "train_time_s": t,
            "trainable_params": 10,
            "learning_rate": lr,
            "epochs": e,
        }
        for a, t, lr, e in (
            (0.7, 1.0, 1e-3, 3),
            (0.8, 2.0, 1e-4, 4),
            (0.9, 3.0, 1e-3, 5),
        )
    ]
    s = evaluation.summarize(runs)
    assert s["test_accuracy_mean"] == pytest.approx(0.8)
    assert s["test_accuracy_std"] == pytest.approx(0.1)
    assert s["val_accuracy_mean"] == pytest.approx(0.7)
    assert s["train_time_s_mean"] == pytest.approx(2.0)
    assert s["learning_rates"] == [1e-3, 1e-4, 1e-3]
    assert s["epochs"] == [3, 4, 5] and s["seeds"] == 3
    assert evaluation.summarize(runs[:1])["test_accuracy_std"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        evaluation.summarize([])
    assert evaluation.format_mean_std(0.8, 0.1, 3) == "80.0 +- 10.0"
    assert evaluation.format_mean_std(0.8, 0.0, 1) == "80.0"
    assert evaluation.format_mean_std(0.8123, 0.01, 2, digits=2) == (
        "81.23 +- 1.00"
    )
