"""Comparing heads: McNemar, a paired bootstrap, mean and std over seeds.

Two heads are compared on the same seeds and the same test examples: the
per-seed paired difference, a paired bootstrap confidence interval over
test examples (pooled over seeds) and an exact McNemar test per seed. A
difference whose 95% interval contains zero is reported as a tie.

The exact test needs SciPy (`pip install scipy`, or the package's `data`
extra); it is imported on first use.
"""

import numpy as np

from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int


def _correct(y_true, pred, name):
    y_true = np.asarray(y_true)
    pred = np.asarray(pred)
    if pred.shape[-1:] != y_true.shape:
        raise ValueError(
            f"`{name}` must hold one prediction per label ({y_true.shape[0]}"
            f" examples). Received shape {pred.shape}."
        )
    return pred == y_true


def mcnemar_test(y_true, pred_a, pred_b):
    """Exact two-sided McNemar test of two classifiers on the same examples.

    Only the discordant examples count: `b` (A right, B wrong) and `c` (A
    wrong, B right). Under the null hypothesis each discordant example is
    a fair coin, so the p-value is the two-sided exact binomial test of
    `min(b, c)` successes in `b + c` trials at p = 1/2
    (`scipy.stats.binomtest`), i.e. `min(1, 2 P(X <= min(b, c)))`.

    Args:
        y_true: int array of labels `[N]`.
        pred_a: predictions `[N]` of model A.
        pred_b: predictions `[N]` of model B.

    Returns:
        The p-value, a float in (0, 1]; 1.0 when the two never disagree on
        correctness.

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> y = np.zeros(20, "int64")
    >>> b = y.copy()
    >>> b[:10] = 1  # A right and B wrong on 10 examples, never the reverse
    >>> round(evaluation.mcnemar_test(y, y, b), 6)
    0.001953
    """
    from scipy import stats

    ca = _correct(y_true, pred_a, "pred_a")
    cb = _correct(y_true, pred_b, "pred_b")
    b = int(np.sum(ca & ~cb))
    c = int(np.sum(~ca & cb))
    if b + c == 0:
        return 1.0
    result = stats.binomtest(min(b, c), b + c, p=0.5, alternative="two-sided")
    return float(min(1.0, result.pvalue))


def paired_bootstrap(y_true, preds_a, preds_b, num_samples=2000, seed=0):
    """Paired bootstrap of the accuracy difference A - B over test examples.

    Predictions from several seeds are averaged per example first, so the
    interval reflects test-set sampling of the seed-averaged accuracy.

    Args:
        y_true: int array `[N]`.
        preds_a: predictions `[N]` or `[seeds, N]` of model A.
        preds_b: same for model B (same seeds, same order).
        num_samples: int >= 1. Bootstrap resamples. Defaults to 2000.
        seed: int. Seeds the resampling. Defaults to 0.

    Returns:
        A dict `difference` (observed, in accuracy points of 1.0 = 100%),
        `ci_low`, `ci_high` (95%, percentile interval) and `p_value`
        (two-sided, from the bootstrap distribution's sign).

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> y = np.arange(100) % 2
    >>> out = evaluation.paired_bootstrap(y, y, 1 - y, num_samples=200)
    >>> out["difference"], out["ci_low"]
    (1.0, 1.0)
    """
    num_samples = check_positive_int("num_samples", num_samples)
    seed = check_int("seed", seed)
    y_true = np.asarray(y_true)
    ca = np.atleast_2d(_correct(y_true, preds_a, "preds_a")).mean(0)
    cb = np.atleast_2d(_correct(y_true, preds_b, "preds_b")).mean(0)
    if np.shape(preds_a) != np.shape(preds_b):
        raise ValueError(
            "preds_a and preds_b must cover the same seeds and examples. "
            f"Received shapes {np.shape(preds_a)} and {np.shape(preds_b)}."
        )
    diff = ca - cb
    rng = np.random.default_rng(seed)
    n = diff.shape[0]
    samples = np.empty(num_samples)
    for start in range(0, num_samples, 200):
        stop = min(num_samples, start + 200)
        idx = rng.integers(0, n, size=(stop - start, n))
        samples[start:stop] = diff[idx].mean(1)
    low, high = np.percentile(samples, [2.5, 97.5])
    p = 2.0 * min(np.mean(samples <= 0.0), np.mean(samples >= 0.0))
    return {
        "difference": float(diff.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(min(1.0, p)),
    }


def compare(y_true, runs_a, runs_b, num_samples=2000, seed=0):
    """Compare two heads run on the same seeds and the same test examples.

    Args:
        y_true: test labels `[N]`.
        runs_a: list of per-seed result dicts of head A (from
            `fit_and_select`, with `test_accuracy` and `test_predictions`),
            in seed order.
        runs_b: the same for head B.
        num_samples: int. Bootstrap resamples. Defaults to 2000.
        seed: int. Seeds the bootstrap. Defaults to 0.

    Returns:
        A dict with the per-seed differences (`per_seed`, in accuracy),
        their `mean` and `std` (sample std over seeds, 0 for one seed),
        the paired bootstrap (`bootstrap`), McNemar p-values per seed
        (`mcnemar_p`) and a `verdict`: `"A better"`, `"B better"` or
        `"tie"` (the bootstrap 95% interval contains 0).

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> y = np.arange(100) % 2
    >>> run = lambda p: {"test_accuracy": float(np.mean(p == y)),
    ...                  "test_predictions": p}
    >>> evaluation.compare(y, [run(y)], [run(1 - y)])["verdict"]
    'A better'
    """
    if len(runs_a) != len(runs_b) or not runs_a:
        raise ValueError(
            "Both heads need results for the same, non-empty list of "
            f"seeds. Received {len(runs_a)} and {len(runs_b)} runs."
        )
    per_seed = [
        r_a["test_accuracy"] - r_b["test_accuracy"]
        for r_a, r_b in zip(runs_a, runs_b)
    ]
    pa = np.stack([r["test_predictions"] for r in runs_a])
    pb = np.stack([r["test_predictions"] for r in runs_b])
    boot = paired_bootstrap(y_true, pa, pb, num_samples=num_samples, seed=seed)
    if boot["ci_low"] > 0:
        verdict = "A better"
    elif boot["ci_high"] < 0:
        verdict = "B better"
    else:
        verdict = "tie"
    return {
        "per_seed": [float(d) for d in per_seed],
        "mean": float(np.mean(per_seed)),
        "std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
        "bootstrap": boot,
        "mcnemar_p": [mcnemar_test(y_true, a, b) for a, b in zip(pa, pb)],
        "verdict": verdict,
    }


def summarize(runs):
    """Mean and std over seeds of one head's per-seed result dicts.

    Args:
        runs: non-empty list of result dicts of `fit_and_select` (with
            `test_accuracy`).

    Returns:
        A dict: `test_accuracy_mean`, `test_accuracy_std` (sample std over
        seeds, 0 for one seed), `val_accuracy_mean`, `trainable_params`,
        `train_time_s_mean`, `learning_rates` and `epochs` (per seed) and
        `seeds`.

    Example:

    >>> from keras_daam import evaluation
    >>> run = {"test_accuracy": 0.5, "val_accuracy": 0.6,
    ...        "train_time_s": 1.0, "trainable_params": 10,
    ...        "learning_rate": 1e-3, "epochs": 3}
    >>> evaluation.summarize([run])["test_accuracy_mean"]
    0.5
    """
    if not runs:
        raise ValueError("`runs` is empty: nothing to summarize.")
    acc = np.array([r["test_accuracy"] for r in runs])
    times = np.array([r["train_time_s"] for r in runs])
    return {
        "test_accuracy_mean": float(acc.mean()),
        "test_accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "val_accuracy_mean": float(np.mean([r["val_accuracy"] for r in runs])),
        "trainable_params": int(runs[0]["trainable_params"]),
        "train_time_s_mean": float(times.mean()),
        "learning_rates": [r["learning_rate"] for r in runs],
        "epochs": [r["epochs"] for r in runs],
        "seeds": len(runs),
    }


def format_mean_std(mean, std, seeds, scale=100.0, digits=1):
    """`"74.6 +- 0.4"`, or just `"74.6"` for a single seed.

    Args:
        mean: float. The mean (an accuracy in [0, 1] by default).
        std: float. Its standard deviation over seeds.
        seeds: int. How many seeds; the std is shown only for more than 1.
        scale: float. Multiplier (100 turns accuracy into %). Defaults to
            100.
        digits: int. Decimals. Defaults to 1.

    Returns:
        str.

    Example:

    >>> from keras_daam import evaluation
    >>> evaluation.format_mean_std(0.746, 0.004, 3)
    '74.6 +- 0.4'
    """
    if seeds > 1:
        return f"{mean * scale:.{digits}f} +- {std * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f}"
